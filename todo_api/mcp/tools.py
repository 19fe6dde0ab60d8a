"""The task tools that AI agents call over MCP: the REST API's operations, validation and isolation.

Built on the SDK's low-level `Server` rather than `MCPServer` (formerly FastMCP): MCPServer validates
tool arguments itself, in pydantic's lax mode and after parsing JSON-looking strings (a description
`"null"` would become None), and reports failures as "Error executing tool ...". Here each tool's
arguments are validated by a model built from the REST schemas' own field types (`arguments.py`), so
the trimming, limits and messages are the REST API's, and every failure is a tool error result a
model can read.

Who is calling comes only from the access token (see `endpoint`), never from an argument.
"""

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import mcp.types as types
from fastapi import HTTPException
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import Server
from pydantic import BaseModel, ValidationError
from starlette.requests import Request

from ..auth.bearer import FORBIDDEN, log_other_user
from ..dependencies import notification_repository, task_repository
from ..tasks.timing import InvalidChange
from ..web.database_errors import report_database_error
from ..web.errors import DATABASE_UNAVAILABLE, INTERNAL_ERROR
from .arguments import (
    AddTaskArguments,
    ListTasksArguments,
    NotificationList,
    NotificationsArguments,
    TaskCompleted,
    TaskCreated,
    TaskDeleted,
    TaskIdArguments,
    TaskList,
    TaskUpdated,
    UpdateTaskArguments,
)
from .handlers import (
    Stores,
    ToolFailure,
    add_task,
    complete_task,
    delete_task,
    list_notifications,
    list_tasks,
    update_task,
)

INSTRUCTIONS = (
    "Tools for the signed-in user's to-do list. Every tool acts on that user's own tasks only. "
    "Use list_tasks to find a task's id before completing, updating or deleting it."
)


Handler = Callable[[Stores, str, Any], Awaitable[types.CallToolResult]]


@dataclass(frozen=True)
class _Tool:
    description: str
    arguments: type[BaseModel]
    result: type[BaseModel]
    handler: Handler
    annotations: types.ToolAnnotations


TOOLS: dict[str, _Tool] = {
    "add_task": _Tool(
        "Add a new task to the user's to-do list. Use it when the user asks to add, create, note or"
        " remember something to do, with the priority, tags, due date, repetition and reminder they say"
        ' ("pay rent, high priority, due Friday, every month, remind me a day before"). Returns its id.',
        AddTaskArguments,
        TaskCreated,
        add_task,
        types.ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=False),
    ),
    "list_tasks": _Tool(
        "List the user's tasks, oldest first unless sorted, with their ids, priorities, tags and due"
        ' dates. Use it to answer what is on the list, what is still open (status "pending") or done'
        ' ("completed"), what is urgent, overdue or due this week, and to find the id of a task before'
        " completing, updating or deleting it.",
        ListTasksArguments,
        TaskList,
        list_tasks,
        types.ToolAnnotations(read_only_hint=True),
    ),
    "complete_task": _Tool(
        "Mark a task as done. Use it when the user says a task is finished. A task that is already"
        " done stays done; a repeating one gets its next occurrence. If you do not know the task's id,"
        " call list_tasks first.",
        TaskIdArguments,
        TaskCompleted,
        complete_task,
        types.ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=True),
    ),
    "delete_task": _Tool(
        "Delete a task for good. Use it only when the user asks to remove or delete a task; for a"
        " task that is merely finished, use complete_task. If you do not know the task's id, call"
        " list_tasks first.",
        TaskIdArguments,
        TaskDeleted,
        delete_task,
        types.ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=False),
    ),
    "update_task": _Tool(
        "Change a task's title, description, priority, tags, due date, time zone, repetition or"
        " reminder, e.g. to reword or move it. Only what you pass changes. To mark a task done, use"
        " complete_task instead.",
        UpdateTaskArguments,
        TaskUpdated,
        update_task,
        types.ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=True),
    ),
    "list_notifications": _Tool(
        "List the user's unread notifications: the reminders that have fired, newest first. Use it"
        " when the user asks what they were reminded of, or what needs their attention now.",
        NotificationsArguments,
        NotificationList,
        list_notifications,
        types.ToolAnnotations(read_only_hint=True),
    ),
}

_LISTED = types.ListToolsResult(
    tools=[
        types.Tool(
            name=name,
            description=tool.description,
            input_schema=tool.arguments.model_json_schema(),
            output_schema=tool.result.model_json_schema(),
            annotations=tool.annotations,
        )
        for name, tool in TOOLS.items()
    ]
)


def _failure(message: str) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(type="text", text=message)], is_error=True)


def _invalid(error: ValidationError) -> types.CallToolResult:
    # The REST API's 422 messages, each with the argument it is about.
    problems = "; ".join(
        f"{'.'.join(str(part) for part in item['loc']) or 'arguments'}: {item['msg']}"
        for item in error.errors()
    )
    return _failure(f"Invalid arguments: {problems}")


async def _list_tools(
    ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None
) -> types.ListToolsResult:
    return _LISTED


async def _call_tool(
    ctx: ServerRequestContext[Any, Any], params: types.CallToolRequestParams
) -> types.CallToolResult:
    request = ctx.request
    user_id = getattr(request.state, "user_id", None) if isinstance(request, Request) else None
    if not isinstance(request, Request) or not isinstance(user_id, str):
        raise RuntimeError("MCP tool call without an authenticated user")  # /mcp authenticates first
    tool = TOOLS.get(params.name)
    if tool is None:
        return _failure(f"Unknown tool: {params.name}")
    arguments: Mapping[str, Any] = params.arguments or {}
    # Identity comes from the token; a user_id argument can only confirm it.
    if arguments.get("user_id") not in (None, user_id):
        log_other_user(request)
        return _failure(FORBIDDEN)
    try:
        args = tool.arguments.model_validate(arguments)
    except ValidationError as error:
        return _invalid(error)
    try:
        stores = Stores(await task_repository(request), await notification_repository(request))
        return await tool.handler(stores, user_id, args)  # 503 above while the schema is not ready
    except HTTPException as refusal:
        return _failure(str(refusal.detail))
    except ToolFailure as failure:
        return _failure(str(failure))
    except InvalidChange as error:
        return _failure(f"Invalid arguments: {error.field}: {error}")
    except Exception as error:
        # As the REST error handlers do: a message for the model, the details for our log only.
        unavailable = report_database_error(request, error, tool=params.name)
        return _failure(DATABASE_UNAVAILABLE if unavailable else INTERNAL_ERROR)


def create_server(version: str) -> Server:
    return Server(
        "todo-api",
        version=version,
        title="Todo API",
        instructions=INSTRUCTIONS,
        on_list_tools=_list_tools,
        on_call_tool=_call_tool,
    )
