"""The OpenAPI document, checked against the live service by schemathesis (property-based).

Every operation gets generated requests (valid and invalid) with a valid token for the URL's
user; schemathesis checks each response against the document (status codes, headers, body
schemas) and for server errors, and we check that no response ever shows another user's task.
"""

import hashlib
import re
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.core.parameters import ParameterLocation
from sqlalchemy.engine import URL

from todo_api.main import openapi_document as document
from todo_api.storage.urls import libpq_dsn

from ..support.auth import auth, new_user
from ..support.launcher import service

EXAMPLES_PER_OPERATION = 160  # x 11 operations that take input: over 1000 cases a run
OWNER = new_user()
VICTIM = new_user()
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def live_service(tmp_path_factory: pytest.TempPathFactory, database_url: URL) -> Iterator[dict[str, Any]]:
    folder = tmp_path_factory.mktemp("contract")
    external = libpq_dsn(database_url)
    with service(folder / "data", folder, log=folder / "service.log", NEON_DATABASE_URL=external) as api:
        ids = {}
        for user in (OWNER, VICTIM):
            created = [
                httpx.post(
                    f"{api.base_url}/api/{user}/tasks",
                    json={"title": f"{user} {n}", "tags": [user], "priority": "high"},
                    headers=auth(user),
                )
                for n in range(5)
            ]
            ids[user] = [response.json()["id"] for response in created]
        yield {"base_url": api.base_url, "ids": ids}


@pytest.fixture(scope="module")
def api_schema(live_service: dict[str, Any]) -> Any:
    return schemathesis.openapi.from_url(f"{live_service['base_url']}/openapi.json")


# Every operation of the document, task routes and probes alike: none may be left out.
OPERATIONS = [(method.upper(), path) for path, item in document()["paths"].items() for method in item]
CASES_RUN: Counter[str] = Counter()
LIST_PARAMETERS_SENT: Counter[str] = Counter()  # in list requests, valid and invalid
STATUSES: dict[str, Counter[int]] = defaultdict(Counter)
FRAMING_HEADERS = {"content-length", "transfer-encoding", "connection", "host", "expect", "upgrade"}
# Names of one list parameter: given twice with different values they are a 422 (a rule no schema
# states), so a valid request keeps the first of each group it holds.
SAME_PARAMETER = [
    ("status", "status_filter", "completed"),
    ("q", "search", "search_query"),
    ("priority", "priority_filter"),
    ("tag", "tags", "tag_filter", "tags_filter"),
    ("sort", "sort_by"),
    ("sort", "sort_order", "order"),
]
# /health and /ready take no input at all: one valid request is all there is to generate, and
# nothing can be made invalid, so they get only the valid mode.
TAKES_INPUT = {
    (m.upper(), p)
    for p, item in document()["paths"].items()
    for m, op in item.items()
    if op.get("parameters")
}
RUNS = [
    (method, path, mode)
    for method, path in OPERATIONS
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    if mode is GenerationMode.POSITIVE or (method, path) in TAKES_INPUT
]


def keep_time_fields_together(body: dict[str, Any]) -> None:
    """Rules across fields that a schema of each field cannot state, which the valid half keeps: a
    recurrence or a relative reminder needs a due date (the stored one, or this one), and a reminder
    is a time or an offset, not both."""
    if body.get("recurrence") is not None or body.get("reminder_minutes_before") is not None:
        body.setdefault("due_date", "2026-12-24")
    if "due_date" in body and body["due_date"] is None:
        body |= {"recurrence": None, "reminder_minutes_before": None}
    if body.get("reminder_minutes_before") is not None:
        body.pop("remind_at", None)
    for alias in ("recurrence_pattern", "recurrence_rule"):  # undocumented names, not generated anyway
        body.pop(alias, None)


def test_every_operation_is_fuzzed_with_every_path_parameter_defined(api_schema: Any) -> None:
    """Where a `{parameter}` of a path is not declared, schemathesis's CLI skips the operation as
    "Path parameter ... is not defined" (7 of the 9 once were); here that is a failure."""
    served = set()
    for result in api_schema.get_all_operations():
        operation = result.ok()  # raises on an operation schemathesis cannot load
        served.add((operation.method.upper(), operation.path))
        defined = {parameter.name for parameter in operation.path_parameters}
        assert defined == set(re.findall(r"{(\w+)}", operation.path)), f"not defined in {operation.label}"
    assert served == set(OPERATIONS)
    assert len(OPERATIONS) == 15


@pytest.mark.parametrize(
    ("method", "path", "mode"),
    RUNS,
    ids=[f"{m} {p} {'valid' if g is GenerationMode.POSITIVE else 'invalid'}" for m, p, g in RUNS],
)
def test_api_conforms_to_its_openapi_document(
    api_schema: Any, live_service: dict[str, Any], method: str, path: str, mode: GenerationMode
) -> None:
    ids = live_service["ids"]
    label = f"{method} {path}"
    examples = EXAMPLES_PER_OPERATION if (method, path) in TAKES_INPUT else 2
    if (method, path) == ("GET", "/api/{user_id}/tasks"):
        examples *= 2  # 22 optional parameters: every one of them gets sent
    # A valid request opens a stream that ends only when its token expires: a token of 1 s, and a
    # few cases (each valid one lasts that second).
    streams = path.endswith("/events")
    if streams:
        examples = 12

    @given(case=api_schema[path][method].as_strategy(generation_mode=mode))
    @settings(
        max_examples=examples // 2,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def check(case: Any) -> None:
        # The token's user, or every request is a 403; an erasure erases a user of its own.
        owner = new_user() if (method, path) == ("DELETE", "/api/{user_id}") else OWNER
        if "user_id" in case.path_parameters:
            case.path_parameters["user_id"] = owner
        # Where schemathesis broke a component on purpose (a bad id, no Authorization), keep it broken.
        bad_path = case.meta is not None and case.meta.is_negative_at(ParameterLocation.PATH)
        bad_headers = case.meta is not None and case.meta.is_negative_at(ParameterLocation.HEADER)
        if "task_id" in case.path_parameters and not bad_path:
            # A third of the cases aim at a real task of ours, a third at someone else's.
            choice = int(hashlib.sha256(repr(case.path_parameters).encode()).hexdigest(), 16) % 3
            if choice < 2:
                # DELETE has a task of its own: the others keep finding theirs (200, not 404).
                mine = ids[OWNER][-1 if method == "DELETE" else 0]
                case.path_parameters["task_id"] = mine if choice == 0 else ids[VICTIM][0]
        # Framing headers belong to the HTTP layer: a bogus Content-Length is refused by uvicorn's
        # parser before the app exists for that request (a bare 400), which no app document covers.
        for name in [name for name in case.headers or {} if name.lower() in FRAMING_HEADERS]:
            del case.headers[name]
        if mode is GenerationMode.POSITIVE:
            # Cursors and ETags are opaque (only the ones we issued are valid), a rule no schema
            # states: a random one is rightly refused (422, 412), so the valid half sends none.
            if case.query:
                case.query.pop("cursor", None)
                for names in SAME_PARAMETER:
                    for name in [name for name in names if name in case.query][1:]:
                        del case.query[name]
            for name in [name for name in case.headers or {} if name.lower() == "if-match"]:
                del case.headers[name]
            # A key reused with another body is rightly a 422: each valid create gets a key of its own.
            for name in [name for name in case.headers or {} if name.lower() == "idempotency-key"]:
                case.headers[name] = uuid.uuid4().hex
            if isinstance(case.body, dict):
                keep_time_fields_together(case.body)
        token = auth(owner, expires_in=1) if streams else auth(owner)
        response = case.call_and_validate(headers={} if bad_headers else token)
        CASES_RUN[label] += 1
        STATUSES[label][response.status_code] += 1
        if label == "GET /api/{user_id}/tasks":
            LIST_PARAMETERS_SENT.update(list(case.query or ()))
        assert response.status_code < 500, response.text
        if "{user_id}/tasks" in path and response.status_code in (200, 201):  # a task or a list of them
            body = response.json()
            for task in body if isinstance(body, list) else [body]:
                assert task["user_id"] == OWNER, f"leaked {task}"
        if path.endswith("/tags") and response.status_code == 200:
            assert VICTIM.lower() not in {tag["name"].lower() for tag in response.json()}, "leaked a tag"

    check()


def test_victims_tasks_survived_the_fuzzing(live_service: dict[str, Any]) -> None:
    listed = httpx.get(f"{live_service['base_url']}/api/{VICTIM}/tasks", headers=auth(VICTIM)).json()
    assert [task["id"] for task in listed] == live_service["ids"][VICTIM]
    assert all(task["title"].startswith(VICTIM) and not task["completed"] for task in listed)


def test_over_a_thousand_cases_ran_and_every_operation_had_its_share() -> None:
    """Runs after the fuzzing above (pytest keeps file order); skipped when that was deselected."""
    if not CASES_RUN:
        pytest.skip("the contract tests did not run in this session")
    for label in sorted(CASES_RUN):
        codes = ", ".join(f"{code}: {n}" for code, n in sorted(STATUSES[label].items()))
        print(f"{label:45} {CASES_RUN[label]:4} cases   {codes}")
    print(f"{sum(CASES_RUN.values())} generated requests over {len(CASES_RUN)} operations")
    for method, path in OPERATIONS:
        minimum = EXAMPLES_PER_OPERATION // 2 if (method, path) in TAKES_INPUT else 1
        minimum = 6 if path.endswith("/events") else minimum
        assert CASES_RUN[f"{method} {path}"] >= minimum, f"{method} {path} was not fuzzed"
    assert sum(CASES_RUN.values()) >= 1000
    documented = {p["name"] for p in document()["paths"]["/api/{user_id}/tasks"]["get"]["parameters"]}
    print("list parameters sent:", {name: LIST_PARAMETERS_SENT[name] for name in sorted(documented)})
    assert documented - {"user_id", "cursor"} <= set(LIST_PARAMETERS_SENT), (
        "a list parameter was never fuzzed"
    )
