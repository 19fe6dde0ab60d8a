"""The MCP endpoint, driven by the official SDK client over real HTTP against the running service.

One service process (`python -m todo_api`) on the test database serves both MCP and REST, so every
change made through one is checked through the other.
"""

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import httpx2
import psycopg
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp.types import CallToolResult
from sqlalchemy.engine import URL

from todo_api.config import Settings
from todo_api.storage.urls import libpq_dsn
from todo_api.tasks.fields import TITLE_PATTERN
from todo_api.web.errors import DATABASE_UNAVAILABLE, INTERNAL_ERROR

from ..support.apps import FRONTEND, make_settings, running_app
from ..support.auth import SECRET, auth, make_token, new_user
from ..support.launcher import Service, service
from ..support.ports import free_port
from ..support.tasks import create_task

pytestmark = pytest.mark.slow

TOOLS = {"add_task", "list_tasks", "complete_task", "delete_task", "update_task", "list_notifications"}
TIMES = ("recurrence", "remind_at", "reminder_minutes_before")
MISSING_ID = 987_654_321
NOT_FOUND = "Task not found"
FORBIDDEN = "You can only access your own tasks"


@pytest.fixture(scope="module")
def log_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("mcp") / "service.log"


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory, database_url: URL, log_file: Path) -> Iterator[Service]:
    folder = tmp_path_factory.mktemp("mcp-service")
    with service(
        folder / "data",
        folder,
        log=log_file,
        NEON_DATABASE_URL=libpq_dsn(database_url),
        BETTER_AUTH_URL=FRONTEND,
        PYTHONUNBUFFERED="1",  # the log test reads the log while the service runs
    ) as running:
        yield running


@pytest.fixture
async def rest(api: Service) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=api.base_url, timeout=30) as client:
        yield client


@asynccontextmanager
async def mcp_session(api: Service, token: str | None) -> AsyncIterator[ClientSession]:
    """An initialized session of the SDK's client, sending `token` as its bearer token."""
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=30) as http,
        streamable_http_client(f"{api.base_url}/mcp", http_client=http) as (read, write, *_),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session


@pytest.fixture
async def user(api: Service) -> str:
    return new_user()


def text(result: CallToolResult) -> str:
    assert len(result.content) == 1
    block = result.content[0]
    assert block.type == "text"
    return block.text


async def ok(session: ClientSession, tool: str, **arguments: Any) -> dict[str, Any]:
    """The structured result of a call that must succeed."""
    result = await session.call_tool(tool, arguments)
    assert not result.is_error, text(result)
    assert isinstance(result.structured_content, dict)
    return result.structured_content


async def refused(session: ClientSession, tool: str, **arguments: Any) -> str:
    """The message of a call that must fail."""
    result = await session.call_tool(tool, arguments)
    assert result.is_error, result
    assert result.structured_content is None
    return text(result)


async def rest_tasks(rest: httpx.AsyncClient, user: str) -> list[dict[str, Any]]:
    response = await rest.get(f"/api/{user}/tasks", headers=auth(user))
    assert response.status_code == 200
    tasks: list[dict[str, Any]] = response.json()
    return tasks


# --- discovery -------------------------------------------------------------------------------


async def test_initialize_and_list_the_five_tools_with_their_schemas(api: Service, user: str) -> None:
    headers = {"Authorization": f"Bearer {make_token(user)}"}
    async with (
        httpx2.AsyncClient(headers=headers) as http,
        streamable_http_client(f"{api.base_url}/mcp", http_client=http) as (read, write, *_),
        ClientSession(read, write) as session,
    ):
        initialized = await session.initialize()
        assert initialized.server_info.name == "todo-api"
        assert initialized.capabilities.tools is not None
        tools = {tool.name: tool for tool in (await session.list_tools()).tools}

    assert set(tools) == TOOLS
    inputs = {name: tool.input_schema for name, tool in tools.items()}
    assert {name: set(schema["properties"]) for name, schema in inputs.items()} == {
        "add_task": {
            *("title", "description", "priority", "tags", "due_date", "time_zone", *TIMES),
            *("user_id", "idempotency_key"),
        },
        "list_tasks": {
            *("status", "priority", "tag", "due_before", "due_after", "overdue", "search", "sort", "user_id")
        },
        "complete_task": {"task_id", "user_id"},
        "delete_task": {"task_id", "user_id"},
        "update_task": {
            *(
                "task_id",
                "title",
                "description",
                "priority",
                "tags",
                "due_date",
                "time_zone",
                *TIMES,
                "user_id",
            )
        },
        "list_notifications": {"user_id"},
    }
    assert {name: schema.get("required", []) for name, schema in inputs.items()} == {
        "add_task": ["title"],
        "list_tasks": [],
        "complete_task": ["task_id"],
        "delete_task": ["task_id"],
        "update_task": ["task_id"],
        "list_notifications": [],
    }
    # The REST API's own rules, stated in the schema a model reads.
    assert inputs["add_task"]["properties"]["title"]["pattern"] == TITLE_PATTERN
    assert inputs["list_tasks"]["properties"]["status"]["enum"] == ["all", "pending", "completed"]
    assert inputs["list_tasks"]["properties"]["status"]["default"] == "all"
    task_id = inputs["complete_task"]["properties"]["task_id"]
    assert (task_id["type"], task_id["minimum"]) == ("integer", 1)
    for name, tool in tools.items():
        assert len(tool.description or "") > 60, name  # written for a model
        assert (tool.output_schema or {}).get("type") == "object", name
    outputs = {name: tool.output_schema or {} for name, tool in tools.items()}
    assert set(outputs["add_task"]["properties"]) == {"task_id", "status", "title"}
    assert set(outputs["list_tasks"]["properties"]) == {"tasks"}
    assert set(outputs["list_notifications"]["properties"]) == {"notifications"}
    changes = {
        "add_task": "created",
        "complete_task": "completed",
        "delete_task": "deleted",
        "update_task": "updated",
    }
    for name, status in changes.items():
        assert outputs[name]["required"] == ["task_id", "status", "title"]
        assert outputs[name]["properties"]["status"]["const"] == status


# --- every tool, checked through REST ----------------------------------------------------------


async def test_a_recurring_task_with_a_reminder_through_mcp(
    api: Service, rest: httpx.AsyncClient, user: str
) -> None:
    async with mcp_session(api, make_token(user)) as session:
        weekly = {"recurrence": "weekly", "reminder_minutes_before": 15, "time_zone": "Europe/Berlin"}
        added = await ok(session, "add_task", title="Water plants", due_date="2026-11-30T09:00", **weekly)
        [task] = await rest_tasks(rest, user)
        assert (task["recurrence"], task["reminder_minutes_before"]) == ("weekly", 15)
        assert task["remind_at"] == "2026-11-30T07:45:00.000000+00:00"
        done = await session.call_tool("complete_task", {"task_id": added["task_id"]})
        assert not done.is_error
        _, following = await rest_tasks(rest, user)
        assert following["parent_task_id"] == task["id"]
        assert text(done).endswith(f"the next one is task {following['id']}, due {following['due_date']}")
        listed = (await ok(session, "list_tasks", status="pending"))["tasks"]
        assert [(t["id"], t["recurrence"], t["reminder_minutes_before"]) for t in listed] == [
            (following["id"], "weekly", 15)
        ]
        refused_rule = await refused(session, "update_task", task_id=following["id"], recurrence="hourly")
        assert refused_rule.startswith("Invalid arguments: recurrence: ")
        no_due = await refused(session, "add_task", title="t", recurrence="daily")
        assert no_due == "Invalid arguments: recurrence: a recurring task needs a due date"


async def test_list_notifications_gives_the_unread_reminders(
    api: Service, rest: httpx.AsyncClient, user: str
) -> None:
    async with mcp_session(api, make_token(user)) as session:
        await ok(
            session, "add_task", title="Call the bank", remind_at="2020-01-01T09:00:00Z"
        )  # long past: at once
        for _ in range(50):
            found = (await ok(session, "list_notifications"))["notifications"]
            if found:
                break
            await asyncio.sleep(0.1)
        [notification] = found
        assert (notification["title"], notification["read"]) == ("Call the bank", False)
        await rest.post(f"/api/{user}/notifications/read", headers=auth(user))
        assert (await ok(session, "list_notifications"))["notifications"] == []
        empty = await session.call_tool("list_notifications", {})
        assert text(empty) == "0 unread notifications"


async def test_priority_tags_and_due_dates_round_trip_through_mcp_and_rest(
    api: Service, rest: httpx.AsyncClient, user: str
) -> None:
    async with mcp_session(api, make_token(user)) as session:
        added = await ok(session, "add_task", title="Pay rent", priority="HIGH", tags="home, money",
                         due_date="2026-12-04T17:00", time_zone="europe/berlin")  # fmt: skip
        [task] = await rest_tasks(rest, user)
        assert added["task_id"] == task["id"]
        fields = (task["priority"], task["tags"], task["due_date"], task["time_zone"])
        assert fields == ("high", ["home", "money"], "2026-12-04T16:00:00.000000+00:00", "Europe/Berlin")

        listed = await session.call_tool("list_tasks", {})
        assert listed.structured_content == {"tasks": [task]}
        assert (
            text(listed)
            == f"1 task:\n- {task['id']} [ ] Pay rent (high, due {task['due_date']}, #home, #money)"
        )

        # Moved to an all-day date in New York, one field at a time; the rest is kept.
        await ok(session, "update_task", task_id=task["id"], time_zone="America/New_York")
        await ok(session, "update_task", task_id=task["id"], due_date="2026-12-05", priority="urgent")
        [moved] = await rest_tasks(rest, user)
        assert (moved["due_date"], moved["time_zone"], moved["priority"]) == (
            "2026-12-05",
            "America/New_York",
            "urgent",
        )
        assert moved["tags"] == ["home", "money"]
        await ok(session, "update_task", task_id=task["id"], due_date=None, tags=[])
        [cleared] = await rest_tasks(rest, user)
        assert (cleared["due_date"], cleared["tags"]) == (None, [])


async def test_list_tasks_filters_and_sorts_as_rest_does(
    api: Service, rest: httpx.AsyncClient, user: str
) -> None:
    for body in [
        {"title": "a", "priority": "low", "tags": ["work"], "due_date": "2026-12-10"},
        {"title": "b", "priority": "urgent", "tags": ["home"], "due_date": "2020-01-01"},
        {"title": "c", "priority": "urgent", "tags": ["work", "home"]},
    ]:
        await create_task(rest, user, **body)
    async with mcp_session(api, make_token(user)) as session:

        async def listed(**arguments: Any) -> list[str]:
            return [task["title"] for task in (await ok(session, "list_tasks", **arguments))["tasks"]]

        assert await listed(priority="urgent") == ["b", "c"]
        assert await listed(tag="WORK") == ["a", "c"]
        assert await listed(overdue=True) == ["b"]
        assert await listed(due_before="2026-01-01") == ["b"]
        assert await listed(due_after="2026-12-01T00:00:00Z") == ["a"]
        assert await listed(search="c") == ["c"]
        assert await listed(sort="-priority", status="pending") == ["c", "b", "a"]
        assert await listed(sort="due_date") == ["b", "a", "c"]
        problem = await refused(session, "list_tasks", priority="critical", sort="soonest")
        assert problem.startswith("Invalid arguments: priority: ")
        assert "sort: " in problem


async def test_new_fields_are_validated_exactly_as_rest_does(
    api: Service, rest: httpx.AsyncClient, user: str
) -> None:
    async with mcp_session(api, make_token(user)) as session:
        for field, value in [("priority", "critical"), ("tags", ["a,b"]), ("due_date", "2026-02-30"),
                             ("time_zone", "Mars/Olympus")]:  # fmt: skip
            message = await refused(session, "add_task", title="t", **{field: value})
            response = await rest.post(
                f"/api/{user}/tasks", json={"title": "t", field: value}, headers=auth(user)
            )
            [error] = response.json()["detail"]
            assert message == f"Invalid arguments: {field}: {error['msg']}"
        assert await rest_tasks(rest, user) == []


async def test_add_task_is_visible_through_rest(api: Service, rest: httpx.AsyncClient, user: str) -> None:
    async with mcp_session(api, make_token(user)) as session:
        result = await session.call_tool("add_task", {"title": "  Buy milk  ", "description": "2 litres"})

        assert not result.is_error
        [task] = await rest_tasks(rest, user)
        assert result.structured_content == {"task_id": task["id"], "status": "created", "title": "Buy milk"}
        assert text(result) == f'Created task {task["id"]}: "Buy milk"'
        assert (task["title"], task["description"], task["completed"]) == ("Buy milk", "2 litres", False)


async def test_list_tasks_returns_the_rest_json_shape(
    api: Service, rest: httpx.AsyncClient, user: str
) -> None:
    async with mcp_session(api, make_token(user)) as session:
        await create_task(rest, user, title="Made over REST", description="with details")
        await create_task(rest, user, title="Second")

        listed = await session.call_tool("list_tasks", {})

        assert listed.structured_content == {"tasks": await rest_tasks(rest, user)}
        first, second = listed.structured_content["tasks"]
        assert text(listed) == (
            f"2 tasks:\n- {first['id']} [ ] Made over REST (medium): with details\n"
            f"- {second['id']} [ ] Second (medium)"
        )


async def test_complete_task_is_idempotent_and_visible_through_rest(
    api: Service, rest: httpx.AsyncClient, user: str
) -> None:
    async with mcp_session(api, make_token(user)) as session:
        task = await create_task(rest, user, title="Dentist")

        for _ in range(2):  # done stays done: not a toggle
            done = await ok(session, "complete_task", task_id=task["id"])
            assert done == {"task_id": task["id"], "status": "completed", "title": "Dentist"}
            [now] = await rest_tasks(rest, user)
            assert now["completed"] is True

        # A REST toggle back to open is seen by MCP too.
        await rest.patch(f"/api/{user}/tasks/{task['id']}/complete", headers=auth(user))
        assert [t["id"] for t in (await ok(session, "list_tasks", status="pending"))["tasks"]] == [task["id"]]


async def test_update_task_changes_only_what_is_sent(
    api: Service, rest: httpx.AsyncClient, user: str
) -> None:
    async with mcp_session(api, make_token(user)) as session:
        task = await create_task(rest, user, title="Call mom", description="Sunday")

        renamed = await ok(session, "update_task", task_id=task["id"], title="  Call mum ")
        assert renamed == {"task_id": task["id"], "status": "updated", "title": "Call mum"}
        [now] = await rest_tasks(rest, user)
        assert (now["title"], now["description"]) == ("Call mum", "Sunday")

        await ok(session, "update_task", task_id=task["id"], description="Saturday")
        [now] = await rest_tasks(rest, user)
        assert (now["title"], now["description"]) == ("Call mum", "Saturday")

        await ok(session, "update_task", task_id=task["id"], description=None)  # null clears, as in PATCH
        [now] = await rest_tasks(rest, user)
        assert (now["title"], now["description"], now["completed"]) == ("Call mum", None, False)

        # Text that looks like JSON is still just text.
        await ok(session, "update_task", task_id=task["id"], description='["milk"]', title="null")
        [now] = await rest_tasks(rest, user)
        assert (now["title"], now["description"]) == ("null", '["milk"]')


async def test_delete_task_is_visible_through_rest(api: Service, rest: httpx.AsyncClient, user: str) -> None:
    async with mcp_session(api, make_token(user)) as session:
        task = await create_task(rest, user, title="Old task")

        deleted = await ok(session, "delete_task", task_id=task["id"])

        assert deleted == {"task_id": task["id"], "status": "deleted", "title": "Old task"}
        gone = await rest.get(f"/api/{user}/tasks/{task['id']}", headers=auth(user))
        assert gone.status_code == 404
        assert await refused(session, "delete_task", task_id=task["id"]) == NOT_FOUND


async def test_rest_changes_are_visible_through_mcp(api: Service, rest: httpx.AsyncClient, user: str) -> None:
    async with mcp_session(api, make_token(user)) as session:
        task = await create_task(rest, user, title="From the web app")
        await rest.patch(
            f"/api/{user}/tasks/{task['id']}", json={"title": "Renamed on the web"}, headers=auth(user)
        )
        assert [t["title"] for t in (await ok(session, "list_tasks"))["tasks"]] == ["Renamed on the web"]

        await rest.delete(f"/api/{user}/tasks/{task['id']}", headers=auth(user))
        assert (await ok(session, "list_tasks"))["tasks"] == []
        assert await refused(session, "complete_task", task_id=task["id"]) == NOT_FOUND


async def test_status_filters(api: Service, rest: httpx.AsyncClient, user: str) -> None:
    async with mcp_session(api, make_token(user)) as session:
        ids = [(await ok(session, "add_task", title=f"Task {n}"))["task_id"] for n in range(4)]
        for task_id in ids[1::2]:
            await ok(session, "complete_task", task_id=task_id)

        async def listed(**arguments: str) -> list[int]:
            return [task["id"] for task in (await ok(session, "list_tasks", **arguments))["tasks"]]

        assert await listed() == ids
        assert await listed(status="all") == ids
        assert await listed(status="pending") == [ids[0], ids[2]]
        assert await listed(status="completed") == [ids[1], ids[3]]
        pending = await session.call_tool("list_tasks", {"status": "pending"})
        assert text(pending).startswith("2 pending tasks:\n")
        assert await refused(session, "list_tasks", status="done") == (
            "Invalid arguments: status: Input should be 'all', 'pending' or 'completed'"
        )


async def test_missing_task_is_not_found_for_every_tool(api: Service, user: str) -> None:
    async with mcp_session(api, make_token(user)) as session:
        for tool in ("complete_task", "delete_task", "update_task"):
            assert await refused(session, tool, task_id=MISSING_ID) == NOT_FOUND


# --- validation: the REST API's rules and messages ---------------------------------------------


def rest_messages(response: httpx.Response) -> list[str]:
    assert response.status_code == 422, response.text
    return [f"{item['loc'][-1]}: {item['msg']}" for item in response.json()["detail"]]


@pytest.mark.parametrize(
    "arguments",
    [
        {},
        {"title": ""},
        {"title": "   \t\n "},
        {"title": "x" * 201},
        {"title": None},
        {"title": 123},
        {"title": "nul\x00byte"},
        {"title": "ok", "description": "d" * 1001},
        {"title": "ok", "description": 5},
    ],
)
async def test_add_task_validation_matches_rest(
    api: Service, rest: httpx.AsyncClient, user: str, arguments: dict[str, Any]
) -> None:
    async with mcp_session(api, make_token(user)) as session:
        expected = rest_messages(await rest.post(f"/api/{user}/tasks", json=arguments, headers=auth(user)))

        message = await refused(session, "add_task", **arguments)

        assert message == "Invalid arguments: " + "; ".join(expected)
        assert await rest_tasks(rest, user) == []  # nothing was created


@pytest.mark.parametrize(
    "arguments",
    [
        {"title": "  "},
        {"title": None},
        {"title": "x" * 201},
        {"description": "d" * 1001},
    ],
)
async def test_update_task_validation_matches_patch(
    api: Service, rest: httpx.AsyncClient, user: str, arguments: dict[str, Any]
) -> None:
    async with mcp_session(api, make_token(user)) as session:
        task = await create_task(rest, user, title="Original")
        url = f"/api/{user}/tasks/{task['id']}"
        expected = rest_messages(await rest.patch(url, json=arguments, headers=auth(user)))

        message = await refused(session, "update_task", task_id=task["id"], **arguments)

        assert message == "Invalid arguments: " + "; ".join(expected)
        assert await rest_tasks(rest, user) == [task]  # nothing changed


@pytest.mark.parametrize("task_id", [0, -1, 2**63, "abc"])
@pytest.mark.parametrize("tool", ["complete_task", "delete_task", "update_task"])
async def test_task_id_validation_matches_rest_path(
    api: Service, rest: httpx.AsyncClient, user: str, tool: str, task_id: object
) -> None:
    async with mcp_session(api, make_token(user)) as session:
        expected = rest_messages(await rest.get(f"/api/{user}/tasks/{task_id}", headers=auth(user)))

        assert await refused(session, tool, task_id=task_id) == "Invalid arguments: " + "; ".join(expected)


# --- authentication ----------------------------------------------------------------------------

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "t", "version": "1"},
    },
}
MCP_HEADERS = {"Accept": "application/json, text/event-stream"}


@pytest.mark.parametrize(
    ("token", "detail", "error"),
    [
        (None, "Not authenticated", ""),
        (
            make_token("someone", secret="not-the-secret-not-the-secret-not-the-secret"),
            "Invalid authentication token",
            "",
        ),
        ("not-a-jwt", "Invalid authentication token", ""),
        (
            make_token("someone", expires_in=-3600),
            "Token has expired",
            'error="invalid_token", error_description="token expired", ',
        ),
    ],
)
async def test_without_a_valid_token_401_points_to_the_resource_metadata(
    api: Service, rest: httpx.AsyncClient, token: str | None, detail: str, error: str
) -> None:
    headers = MCP_HEADERS | ({"Authorization": f"Bearer {token}"} if token else {})

    response = await rest.post("/mcp", json=INITIALIZE, headers=headers)

    assert response.status_code == 401
    assert response.json() == {"detail": detail}
    metadata_url = f"{api.base_url}/.well-known/oauth-protected-resource/mcp"
    assert response.headers["www-authenticate"] == f'Bearer {error}resource_metadata="{metadata_url}"'


async def test_protected_resource_metadata_names_better_auth(api: Service, rest: httpx.AsyncClient) -> None:
    for path, resource in [("/mcp", f"{api.base_url}/mcp"), ("", api.base_url)]:
        response = await rest.get(f"/.well-known/oauth-protected-resource{path}")  # no token needed
        assert response.status_code == 200
        assert response.json() == {
            "resource": resource,
            "authorization_servers": [FRONTEND],
            "bearer_methods_supported": ["header"],
            "resource_name": "Todo API",
        }


async def test_mcp_can_be_turned_off(database_url: URL) -> None:
    user = new_user()  # not the `user` fixture: that one starts the MCP-enabled server process
    async with running_app(make_settings(mcp_enabled=False), database_url) as client:
        initialize = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}}
        assert (await client.post("/mcp", json=initialize, headers=auth(user))).status_code == 404
        assert (await client.get("/.well-known/oauth-protected-resource/mcp")).status_code == 404
        assert (await client.get(f"/api/{user}/tasks", headers=auth(user))).status_code == 200  # REST stays


async def test_the_sdk_client_without_a_token_cannot_connect(api: Service) -> None:
    with pytest.raises(ExceptionGroup) as raised:  # the SDK's task groups wrap the refusal
        async with mcp_session(api, None):
            pytest.fail("initialized without a token")
    assert raised.group_contains(MCPError, depth=None)


async def test_get_and_delete_are_405_in_stateless_mode(rest: httpx.AsyncClient, user: str) -> None:
    for method in ("GET", "DELETE"):
        response = await rest.request(method, "/mcp", headers=MCP_HEADERS | auth(user))
        assert response.status_code == 405
        assert response.headers["allow"] == "POST"


async def test_browser_origins_follow_the_cors_list(rest: httpx.AsyncClient, user: str) -> None:
    preflight = await rest.options(
        "/mcp",
        headers={
            "Origin": FRONTEND,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type, mcp-protocol-version",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == FRONTEND

    headers = MCP_HEADERS | auth(user)
    allowed = await rest.post("/mcp", json=INITIALIZE, headers=headers | {"Origin": FRONTEND})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == FRONTEND
    assert "www-authenticate" in allowed.headers["access-control-expose-headers"].lower()

    foreign = await rest.post("/mcp", json=INITIALIZE, headers=headers | {"Origin": "http://evil.example"})
    assert foreign.status_code == 403
    assert foreign.json() == {"detail": "Origin not allowed"}


# --- isolation ---------------------------------------------------------------------------------


@pytest.mark.parametrize("claimed", ["other", "upper", "padded"])
async def test_user_id_argument_must_be_the_tokens_user(
    api: Service, rest: httpx.AsyncClient, user: str, claimed: str
) -> None:
    async with mcp_session(api, make_token(user)) as session:
        victim = new_user()
        victims_task = await create_task(rest, victim, title="Victim's")
        own = await create_task(rest, user, title="Mine")
        other_id = {"other": victim, "upper": user.upper(), "padded": f" {user}"}[claimed]

        calls: list[tuple[str, dict[str, Any]]] = [
            ("add_task", {"title": "Planted"}),
            ("list_tasks", {}),
            ("complete_task", {"task_id": own["id"]}),
            ("update_task", {"task_id": own["id"], "title": "Hijacked"}),
            ("delete_task", {"task_id": own["id"]}),
        ]
        for tool, arguments in calls:
            assert await refused(session, tool, **arguments, user_id=other_id) == FORBIDDEN

        assert await rest_tasks(rest, user) == [own]  # nothing changed
        assert await rest_tasks(rest, victim) == [victims_task]
        # The token's own id is accepted (the specs these frontends follow pass it).
        assert (await ok(session, "list_tasks", user_id=user))["tasks"] == [own]
        assert (await ok(session, "add_task", title="Fine", user_id=user))["status"] == "created"


async def test_two_users_cannot_touch_each_others_tasks_over_mcp(
    api: Service, rest: httpx.AsyncClient
) -> None:
    users = [new_user(), new_user()]
    tasks = {}
    for user in users:
        async with mcp_session(api, make_token(user)) as session:
            for title in ("Open", "Done"):
                await ok(session, "add_task", title=f"{user} {title}", description="private")
            await ok(session, "complete_task", task_id=(await rest_tasks(rest, user))[1]["id"])
        tasks[user] = await rest_tasks(rest, user)

    attempts: list[tuple[str, dict[str, Any]]] = [
        ("complete_task", {}),
        ("update_task", {"title": "Hijacked"}),
        ("update_task", {"description": None}),
        ("delete_task", {}),
    ]
    for attacker, victim in [(users[0], users[1]), (users[1], users[0])]:
        async with mcp_session(api, make_token(attacker)) as session:
            for task in tasks[victim]:
                for tool, extra in attempts:
                    # Exactly what a missing id gets: nothing tells the ids apart.
                    missing = await refused(session, tool, task_id=MISSING_ID, **extra)
                    assert await refused(session, tool, task_id=task["id"], **extra) == missing == NOT_FOUND
            for status in ("all", "pending", "completed"):
                listed = await ok(session, "list_tasks", status=status)
                assert listed["tasks"], "the attacker's own tasks are listed"
                assert {task["user_id"] for task in listed["tasks"]} == {attacker}

    for user in users:  # not one field changed, not even updated_at
        assert await rest_tasks(rest, user) == tasks[user]


# --- load and logs -----------------------------------------------------------------------------


async def test_twenty_concurrent_sessions_have_no_errors(api: Service, rest: httpx.AsyncClient) -> None:
    users = [new_user() for _ in range(10)]
    errors: list[str] = []

    async def agent(user: str, n: int) -> None:
        try:
            async with mcp_session(api, make_token(user)) as session:
                for tool, arguments in [("add_task", {"title": f"Session {n}"}), ("list_tasks", {})]:
                    result = await session.call_tool(tool, arguments)
                    if result.is_error:
                        errors.append(text(result))
                created = await ok(session, "add_task", title=f"Session {n} b")
                for tool in ("complete_task", "update_task", "delete_task"):
                    result = await session.call_tool(tool, {"task_id": created["task_id"]})
                    if result.is_error:
                        errors.append(text(result))
        except Exception as error:  # any transport or protocol failure counts
            errors.append(repr(error))

    await asyncio.gather(*(agent(users[n % len(users)], n) for n in range(20)))

    assert errors == []
    for n, user in enumerate(users):
        titles = {task["title"] for task in await rest_tasks(rest, user)}
        assert titles == {f"Session {n}", f"Session {n + 10}"}  # the "b" tasks were deleted


async def test_the_log_has_the_refusals_and_never_a_token(
    api: Service, rest: httpx.AsyncClient, log_file: Path
) -> None:
    user = new_user()
    good = make_token(user)
    forged = make_token(user, secret="not-the-secret-not-the-secret-not-the-secret")
    async with mcp_session(api, good) as session:
        await ok(session, "add_task", title="Logged")
        await refused(session, "list_tasks", user_id="someone-else")
    response = await rest.post(
        "/mcp", json=INITIALIZE, headers=MCP_HEADERS | {"Authorization": f"Bearer {forged}"}
    )
    assert response.status_code == 401
    await asyncio.sleep(0.2)

    text_of_log = log_file.read_text()  # noqa: ASYNC240  (a small file, once)
    lines = [json.loads(line) for line in text_of_log.splitlines() if line.strip()]
    mcp_lines = [line for line in lines if line.get("path") == "/mcp"]
    assert any(line["event"] == "auth_failed" and line["reason"] == "bad_signature" for line in mcp_lines)
    assert any(line["event"] == "forbidden" for line in mcp_lines)
    for secret in (good, forged, good.split(".")[2], forged.split(".")[2], SECRET):
        assert secret not in text_of_log


# --- database failures: a message for the model, the details for the log -----------------------


async def raw_tool_call(client: httpx.AsyncClient, user: str, tool: str) -> dict[str, Any]:
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": tool, "arguments": {}}}
    headers = MCP_HEADERS | auth(user) | {"MCP-Protocol-Version": "2025-11-25"}
    response = await client.post("/mcp", json=body, headers=headers)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()["result"]
    return result


async def test_database_errors_are_tool_errors_without_internals(
    settings: Settings, fresh_database: URL, caplog: pytest.LogCaptureFixture
) -> None:
    async with running_app(settings, fresh_database) as client:
        user = new_user()
        assert (await raw_tool_call(client, user, "list_tasks"))["structuredContent"] == {"tasks": []}
        with psycopg.connect(libpq_dsn(fresh_database), autocommit=True) as conn:
            conn.execute("DROP TABLE tasks CASCADE")
        result = await raw_tool_call(client, user, "list_tasks")

    assert result["isError"] is True
    assert result["content"] == [{"type": "text", "text": INTERNAL_ERROR}]
    assert any("UndefinedTable" in (r.exc_text or "") for r in caplog.records)  # the log has it all


async def test_unreachable_database_is_a_retry_later_tool_error(
    settings: Settings, database_url: URL
) -> None:
    nowhere = database_url.set(host="127.0.0.1", port=free_port())  # nothing listens there
    async with running_app(settings, nowhere) as client:
        result = await raw_tool_call(client, new_user(), "list_tasks")

    assert result["isError"] is True
    assert result["content"] == [{"type": "text", "text": DATABASE_UNAVAILABLE}]
