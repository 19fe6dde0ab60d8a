"""The task tools that AI agents call over MCP: the REST API's operations, validation and isolation.

Built on the SDK's low-level `Server` rather than `MCPServer` (formerly FastMCP): MCPServer validates
tool arguments itself, in pydantic's lax mode and after parsing JSON-looking strings (a description
`"null"` would become None), and reports failures as "Error executing tool ...". Here each tool's
arguments are validated by a model built from the REST schemas' own field types (`arguments.py`), so
the trimming, limits and messages are the REST API's, and every failure is a tool error result a
model can read.

Who is calling comes only from the access token (see `endpoint`), never from an argument.
"""

import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, get_args

import mcp.types as types
from fastapi import HTTPException
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import Server
from pydantic import BaseModel, ValidationError
from starlette.requests import Request

from ..auth.bearer import FORBIDDEN, log_other_user
from ..dependencies import task_repository
from ..tasks.queries import ListQuery
from ..tasks.repository import TaskRepository
from ..web.database_errors import report_database_error
from ..web.errors import DATABASE_UNAVAILABLE, INTERNAL_ERROR, TASK_NOT_FOUND
from .arguments import (
    AddTaskArguments,
    ListTasksArguments,
    TaskChange,
    TaskCompleted,
    TaskCreated,
    TaskDeleted,
    TaskIdArguments,
    TaskList,
    TaskUpdated,
    UpdateTaskArguments,
)

INSTRUCTIONS = (
    "Tools for the signed-in user's to-do list. Every tool acts on that user's own tasks only. "
    "Use list_tasks to find a task's id before completing, updating or deleting it."
)


class ToolFailure(Exception):
    """A refusal the model should read (validation, not found, forbidden): becomes an error result."""


Handler = Callable[[TaskRepository, str, Any], Awaitable[types.CallToolResult]]


@dataclass(frozen=True)
class _Tool:
    description: str
    arguments: type[BaseModel]
    result: type[BaseModel]
    handler: Handler
    annotations: types.ToolAnnotations


def _changed(task_json: str, result: type[TaskChange], verb: str) -> types.CallToolResult:
    task = json.loads(task_json)
    [status] = get_args(result.model_fields["status"].annotation)
    change = result(task_id=task["id"], status=status, title=task["title"])
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=f'{verb} task {change.task_id}: "{change.title}"')],
        structured_content=change.model_dump(mode="json"),
    )


async def add_task(repository: TaskRepository, user_id: str, args: AddTaskArguments) -> types.CallToolResult:
    task = await repository.create(user_id, args.values())
    return _changed(task.json, TaskCreated, "Created")


def _list_query(args: ListTasksArguments) -> ListQuery | None:
    """The REST list's query for these arguments; None for the plain list (every task, oldest first)."""
    query = ListQuery(
        sort=args.sort,
        completed=None if args.status == "all" else args.status == "completed",
        search=args.search,
        priorities=args.priority,  # type: ignore[arg-type]  # parsed by its validator
        tags=args.tag,  # type: ignore[arg-type]
        due_before=args.due_before,  # type: ignore[arg-type]
        due_after=args.due_after,  # type: ignore[arg-type]
        overdue=args.overdue,
    )
    return None if query == ListQuery() else query


def _task_line(task: dict[str, Any]) -> str:
    """`- 7 [ ] Pay rent (high, due 2026-12-04T16:00:00.000000+00:00, #home): details`"""
    facts = [task["priority"]] + ([f"due {task['due_date']}"] if task["due_date"] else [])
    facts += [f"#{tag}" for tag in task["tags"]]
    details = f": {task['description']}" if task["description"] else ""
    return (
        f"- {task['id']} [{'x' if task['completed'] else ' '}] {task['title']} ({', '.join(facts)}){details}"
    )


async def list_tasks(
    repository: TaskRepository, user_id: str, args: ListTasksArguments
) -> types.CallToolResult:
    query = _list_query(args)
    page = await (repository.list_all(user_id) if query is None else repository.page(user_id, query))
    tasks: list[dict[str, Any]] = json.loads(page.json)
    kind = "" if args.status == "all" else f"{args.status} "
    lines = [f"{len(tasks)} {kind}task{'' if len(tasks) == 1 else 's'}" + (":" if tasks else ".")]
    lines += map(_task_line, tasks)
    return types.CallToolResult(
        content=[types.TextContent(type="text", text="\n".join(lines))],
        structured_content={"tasks": tasks},
    )


async def complete_task(
    repository: TaskRepository, user_id: str, args: TaskIdArguments
) -> types.CallToolResult:
    # Not the toggle: completing a done task leaves it done.
    task = await repository.update(user_id, args.task_id, {"completed": True})
    if task is None:
        raise ToolFailure(TASK_NOT_FOUND)
    return _changed(task.json, TaskCompleted, "Completed")


async def delete_task(
    repository: TaskRepository, user_id: str, args: TaskIdArguments
) -> types.CallToolResult:
    task = await repository.delete(user_id, args.task_id)  # the deleted task, for its title
    if task is None:
        raise ToolFailure(TASK_NOT_FOUND)
    return _changed(task.json, TaskDeleted, "Deleted")


async def update_task(
    repository: TaskRepository, user_id: str, args: UpdateTaskArguments
) -> types.CallToolResult:
    task = await repository.update(user_id, args.task_id, args.changes())
    if task is None:
        raise ToolFailure(TASK_NOT_FOUND)
    return _changed(task.json, TaskUpdated, "Updated")


TOOLS: dict[str, _Tool] = {
    "add_task": _Tool(
        "Add a new task to the user's to-do list. Use it when the user asks to add, create, note or"
        " remember something to do. Returns the new task's id.",
        AddTaskArguments,
        TaskCreated,
        add_task,
        types.ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=False),
    ),
    "list_tasks": _Tool(
        "List the user's tasks, oldest first, with their ids. Use it to answer what is on the list,"
        ' what is still open (status "pending") or done ("completed"), and to find the id of a task'
        " before completing, updating or deleting it.",
        ListTasksArguments,
        TaskList,
        list_tasks,
        types.ToolAnnotations(read_only_hint=True),
    ),
    "complete_task": _Tool(
        "Mark a task as done. Use it when the user says a task is finished. A task that is already"
        " done stays done. If you do not know the task's id, call list_tasks first.",
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
        "Change a task's title and/or description, e.g. to fix or reword it. Only what you pass"
        " changes. To mark a task done, use complete_task instead.",
        UpdateTaskArguments,
        TaskUpdated,
        update_task,
        types.ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=True),
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
        repository = await task_repository(request)  # 503 while the schema is not ready
        return await tool.handler(repository, user_id, args)
    except HTTPException as refusal:
        return _failure(str(refusal.detail))
    except ToolFailure as failure:
        return _failure(str(failure))
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
