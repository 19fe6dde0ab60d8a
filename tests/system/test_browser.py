"""A real browser: headless Chromium runs a page served by the real Better Auth on the frontend's
origin. The page signs up, takes its JWT from /api/auth/token, and calls the API (a real server
process) cross-origin, as a Next.js page would, once with fetch's default credentials and once
with `credentials: "include"`. Every answer, errors included, must be readable by the page.
Another page reads the user's event stream with fetch() while the test changes tasks.
"""

import html
import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import URL

from todo_api.storage.urls import libpq_dsn

from ..support.better_auth import better_auth
from ..support.launcher import service

pytestmark = pytest.mark.slow

# Flags that keep a headless Chromium to the page: no sandbox (root in CI), no GPU, no calls home.
CHROMIUM_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--dump-dom",
    "--virtual-time-budget=30000",
]
RESULTS = re.compile(r'<pre id="results" data-done="true">(.*?)</pre>', re.DOTALL)
TASK_STEPS = {
    "create": 201,
    "create another": 201,
    "list": 200,
    "list a page": 200,
    "list with a trailing slash": 200,
    "get": 200,
    "update": 200,
    "patch": 200,
    "toggle": 200,
    "delete": 204,
}
ERROR_STEPS = {
    "invalid JSON": (400, "Request body is not valid JSON"),
    "no token": (401, "Not authenticated"),
    "bad token": (401, "Invalid authentication token"),
    "another user's tasks": (403, "You can only access your own tasks"),
    "deleted task": (404, "Task not found"),
    "update with a stale If-Match": (
        412,
        "The task was changed since you loaded it; reload it and try again",
    ),
    "unsupported method": (405, "Method Not Allowed"),
}


def chromium() -> str:
    """Debian's `chromium`; skipped where missing, unless CI demands it (REQUIRE_CHROMIUM=1)."""
    found = shutil.which("chromium")
    if found is None:
        message = "needs Chromium (Debian: apt-get install chromium)"
        if os.environ.get("REQUIRE_CHROMIUM") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return found


def run_page(url: str, profile: Path) -> dict[str, Any]:
    command = [chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", url]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    found = RESULTS.search(result.stdout)
    assert found, f"the page did not finish (exit {result.returncode}): {result.stdout[-2000:]}"
    report: dict[str, Any] = json.loads(html.unescape(found.group(1)))
    return report


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory, database_url: URL) -> dict[str, Any]:
    chromium()
    folder = tmp_path_factory.mktemp("browser")
    with better_auth("EdDSA") as frontend:
        # The API trusts the frontend's origin: CORS, and the expected iss/aud of its tokens.
        external = libpq_dsn(database_url)
        with service(
            folder / "data", folder, NEON_DATABASE_URL=external, BETTER_AUTH_URL=frontend.base_url
        ) as api:
            return run_page(f"{frontend.base_url}/test/page.html?api={api.base_url}", folder / "profile")


def steps(report: dict[str, Any], credentials: str) -> dict[str, dict[str, Any]]:
    return {record["step"]: record for record in report["results"] if record["credentials"] == credentials}


def test_page_signed_up_with_better_auth_and_got_its_jwt(report: dict[str, Any]) -> None:
    assert "failed" not in report, report
    assert (report["signUp"], report["tokenStatus"]) == (200, 200)
    assert report["origin"].startswith("http://127.0.0.1:")


@pytest.mark.parametrize("credentials", ["same-origin", "include"])
def test_page_reads_every_answer_of_the_task_flow(report: dict[str, Any], credentials: str) -> None:
    seen = steps(report, credentials)
    for step, status in TASK_STEPS.items():
        assert seen[step].get("status") == status, seen[step]
    user = report["user"]
    created = seen["create"]["body"]
    assert created["user_id"] == user
    assert created["title"] == f"Made in {credentials}"
    # Headers the API exposes through CORS are readable by the page.
    assert seen["create"]["etag"] == seen["get"]["etag"] != seen["update"]["etag"]
    assert int(seen["list"]["x-total-count"]) == len(seen["list"]["body"]) >= 2
    assert seen["list a page"]["link"].endswith('; rel="next"')
    assert seen["list with a trailing slash"]["body"] == seen["list"]["body"]
    assert seen["get"]["body"] == created
    assert seen["update"]["body"]["title"] == "Updated"
    assert seen["patch"]["body"]["description"] == "Patched"
    assert seen["toggle"]["body"]["completed"] is True
    assert seen["delete"]["body"] is None


@pytest.mark.parametrize("credentials", ["same-origin", "include"])
def test_page_reads_every_error_status_and_detail(report: dict[str, Any], credentials: str) -> None:
    seen = steps(report, credentials)
    for step, (status, detail) in ERROR_STEPS.items():
        assert (seen[step].get("status"), seen[step].get("body", {}).get("detail")) == (status, detail), seen[
            step
        ]
    invalid = seen["empty title"]
    assert invalid["status"] == 422
    assert [error["loc"] for error in invalid["body"]["detail"]] == [["body", "title"]]


@pytest.mark.parametrize("credentials", ["same-origin", "include"])
def test_a_cors_refusal_would_show_as_failed_to_fetch(report: dict[str, Any], credentials: str) -> None:
    """The control: the harness tells a refused request from an answered one."""
    refused = steps(report, credentials)["control: header CORS does not allow"]
    assert refused == refused | {"error": "TypeError: Failed to fetch"}
    assert "status" not in refused
    answered = [record for record in report["results"] if "error" in record]
    assert answered == [r for r in report["results"] if r["step"].startswith("control:")]


def streams_open(api_url: str) -> float:
    metrics = httpx.get(f"{api_url}/metrics").text
    return sum(
        float(line.split()[-1])
        for line in metrics.splitlines()
        if line.startswith("todo_api_event_streams_open")
    )


def change_a_task_with_a_reminder(api_url: str, user: str, token: str) -> None:
    """Created, its reminder fired, completed, deleted: four events, in this order."""
    headers, tasks = {"Authorization": f"Bearer {token}"}, f"{api_url}/api/{user}/tasks"
    soon = (datetime.now(UTC) + timedelta(seconds=2)).isoformat()
    created = httpx.post(tasks, json={"title": "Water the plants", "remind_at": soon}, headers=headers)
    assert created.status_code == 201, created.text
    deadline = time.monotonic() + 20
    while not httpx.get(f"{api_url}/api/{user}/notifications", headers=headers).json():
        assert time.monotonic() < deadline, "the reminder did not fire"
        time.sleep(0.2)
    one = f"{tasks}/{created.json()['id']}"
    assert httpx.patch(f"{one}/complete", headers=headers).status_code == 200
    assert httpx.delete(one, headers=headers).status_code == 204


def page_report(frontend_url: str, page: str, profile: Path, act: Callable[[], None]) -> dict[str, Any]:
    """Run a page that stays open (no --dump-dom), `act` once it has a stream, and get its report."""
    flags = [flag for flag in CHROMIUM_FLAGS if not flag.startswith(("--dump-dom", "--virtual-time"))]
    browser = subprocess.Popen(
        [chromium(), *flags, f"--user-data-dir={profile}", page], stderr=subprocess.DEVNULL
    )
    try:
        act()
        deadline = time.monotonic() + 30
        while (report := httpx.get(f"{frontend_url}/test/report").json()["report"]) is None:
            assert browser.poll() is None, "the browser quit without a report"
            assert time.monotonic() < deadline, "the page sent no report"
            time.sleep(0.2)
        found: dict[str, Any] = report
        return found
    finally:
        browser.terminate()
        browser.wait(10)


def test_a_page_reads_its_event_stream_with_fetch(tmp_path: Path, database_url: URL) -> None:
    email = f"events-{time.time_ns()}@example.com"
    with better_auth("EdDSA") as frontend:
        token, user = frontend.mint(email)
        external = libpq_dsn(database_url)
        with service(
            tmp_path / "data", tmp_path, NEON_DATABASE_URL=external, BETTER_AUTH_URL=frontend.base_url
        ) as api:

            def act() -> None:
                deadline = time.monotonic() + 60
                while streams_open(api.base_url) < 1:
                    assert time.monotonic() < deadline, "the page opened no stream"
                    time.sleep(0.2)
                change_a_task_with_a_reminder(api.base_url, user, token)

            query = f"api={api.base_url}&email={email}&password=correct-horse-9"
            seen = page_report(
                frontend.base_url, f"{frontend.base_url}/test/events.html?{query}", tmp_path / "p", act
            )
    assert "failed" not in seen, seen
    assert (seen["origin"], seen["user"]) == (frontend.base_url, user)
    events = seen["events"]
    assert [event["type"] for event in events] == [
        *["task.created", "notification.created", "task.completed", "task.deleted"]
    ]
    ids = [int(event["id"]) for event in events]
    assert ids == sorted(set(ids))  # in order, none twice
    task_id = events[0]["data"]["id"]
    assert events[1]["data"]["task_id"] == events[2]["data"]["id"] == task_id
    assert events[2]["data"]["completed"] is True
    assert events[3]["data"] == {"id": task_id}
