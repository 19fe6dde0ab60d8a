"""Three instances of the service on one database and one Redis: the rate limit is one for all of them,
and retries of one create with one Idempotency-Key, spread over them at once, make exactly one task."""

import asyncio
from collections import Counter
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import URL

from ..support.auth import auth, new_user
from ..support.launcher import Service, instances

pytestmark = pytest.mark.slow
REDIS = "redis://127.0.0.1:6379/0"  # the machine's; keys are per user, and each test has its own


def test_three_instances_share_one_rate_limit_in_redis(database_url: URL, tmp_path: Path) -> None:
    user = new_user()
    limits = {"RATE_LIMITS_ENABLED": "true", "RATE_LIMIT": "10/hour", "REDIS_URL": REDIS}
    with instances(3, database_url, tmp_path, **limits) as services:
        answers = [
            httpx.get(f"{services[n % 3].base_url}/api/{user}/tasks", headers=auth(user), timeout=10)
            for n in range(30)
        ]
    served = Counter((n % 3, r.status_code) for n, r in enumerate(answers))
    print(f"\nper instance (instance, status): {sorted(served.items())}")
    assert Counter(r.status_code for r in answers) == {200: 10, 429: 20}
    assert [r.status_code for r in answers[:10]] == [200] * 10  # the first ten, whichever instance
    assert all(int(r.headers["retry-after"]) >= 1 for r in answers[10:])


async def retry(services: list[Service], user: str, key: str) -> list[httpx.Response]:
    headers = auth(user) | {"Idempotency-Key": key}
    body = {"title": "Pay rent", "priority": "high"}
    async with httpx.AsyncClient(timeout=10) as client:
        return await asyncio.gather(
            *[
                client.post(f"{services[n % 3].base_url}/api/{user}/tasks", json=body, headers=headers)
                for n in range(5)
            ]
        )


def test_five_concurrent_retries_over_three_instances_make_one_task(
    database_url: URL, tmp_path: Path
) -> None:
    user = new_user()
    with instances(3, database_url, tmp_path) as services:
        answers = asyncio.run(retry(services, user, "rent-2026-12"))
        later = asyncio.run(retry(services, user, "rent-2026-12"))  # all after the first committed
        listed = httpx.get(f"{services[0].base_url}/api/{user}/tasks", headers=auth(user)).json()
    statuses = Counter(r.status_code for r in answers)
    print(f"\nfive at once: {dict(statuses)}; five after: {dict(Counter(r.status_code for r in later))}")
    assert len(listed) == 1
    assert set(statuses) <= {201, 409}
    assert statuses[201] >= 1
    assert {r.json()["id"] for r in [*answers, *later] if r.status_code == 201} == {listed[0]["id"]}
    assert [r.status_code for r in later] == [201] * 5  # replays of the first answer
