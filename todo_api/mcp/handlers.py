"""What each MCP tool does: the REST API's repository calls, and a result a model can read.

Each handler gets the caller's user id (from the token, never from an argument) and its arguments,
already validated (`arguments.py`).
"""

import json
from dataclasses import dataclass
from typing import Any, get_args

import mcp.types as types

from ..reminders.notifications import NotificationRepository
from ..tasks.idempotency import IdempotencyKey, KeyInFlight, KeyReused
from ..tasks.limits import QuotaExceeded
from ..tasks.queries import ListQuery
from ..tasks.repository import Task, TaskRepository
from ..web.errors import TASK_NOT_FOUND
from .arguments import (
    AddTaskArguments,
    ListTasksArguments,
    NotificationsArguments,
    TaskChange,
    TaskCompleted,
    TaskCreated,
    TaskDeleted,
    TaskIdArguments,
    TaskUpdated,
    UpdateTaskArguments,
)


class ToolFailure(Exception):
    """A refusal the model should read (validation, not found, forbidden): becomes an error result."""


@dataclass(frozen=True)
class Stores:
    tasks: TaskRepository
    notifications: NotificationRepository


def _changed(task_json: str, result: type[TaskChange], verb: str) -> types.CallToolResult:
    task = json.loads(task_json)
    [status] = get_args(result.model_fields["status"].annotation)
    change = result(task_id=task["id"], status=status, title=task["title"])
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=f'{verb} task {change.task_id}: "{change.title}"')],
        structured_content=change.model_dump(mode="json"),
    )


async def add_task(stores: Stores, user_id: str, args: AddTaskArguments) -> types.CallToolResult:
    values = args.values()
    key = None if args.idempotency_key is None else IdempotencyKey.of(args.idempotency_key, values)
    try:
        task = await stores.tasks.create(user_id, values, key)
    except QuotaExceeded as refused:
        raise ToolFailure(refused.detail) from None
    except KeyInFlight:
        raise ToolFailure("A call with this idempotency_key is still in progress; retry soon") from None
    except KeyReused:
        raise ToolFailure("This idempotency_key was used with different arguments") from None
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


async def list_tasks(stores: Stores, user_id: str, args: ListTasksArguments) -> types.CallToolResult:
    query = _list_query(args)
    page = await (stores.tasks.list_all(user_id) if query is None else stores.tasks.page(user_id, query))
    tasks: list[dict[str, Any]] = json.loads(page.json)
    kind = "" if args.status == "all" else f"{args.status} "
    lines = [f"{len(tasks)} {kind}task{'' if len(tasks) == 1 else 's'}" + (":" if tasks else ".")]
    lines += map(_task_line, tasks)
    return types.CallToolResult(
        content=[types.TextContent(type="text", text="\n".join(lines))],
        structured_content={"tasks": tasks},
    )


async def complete_task(stores: Stores, user_id: str, args: TaskIdArguments) -> types.CallToolResult:
    # Not the toggle: completing a done task leaves it done.
    task = await stores.tasks.update(user_id, args.task_id, {"completed": True})
    if task is None:
        raise ToolFailure(TASK_NOT_FOUND)
    result = _changed(task.json, TaskCompleted, "Completed")
    if task.successor is not None:
        _mention_successor(result, task.successor)
    return result


def _mention_successor(result: types.CallToolResult, successor: Task) -> None:
    following = json.loads(successor.json)
    text = f"; it repeats: the next one is task {following['id']}, due {following['due_date']}"
    result.content[0].text += text  # type: ignore[union-attr]


async def delete_task(stores: Stores, user_id: str, args: TaskIdArguments) -> types.CallToolResult:
    task = await stores.tasks.delete(user_id, args.task_id)  # the deleted task, for its title
    if task is None:
        raise ToolFailure(TASK_NOT_FOUND)
    return _changed(task.json, TaskDeleted, "Deleted")


async def update_task(stores: Stores, user_id: str, args: UpdateTaskArguments) -> types.CallToolResult:
    task = await stores.tasks.update(user_id, args.task_id, args.changes())
    if task is None:
        raise ToolFailure(TASK_NOT_FOUND)
    return _changed(task.json, TaskUpdated, "Updated")


async def list_notifications(
    stores: Stores, user_id: str, args: NotificationsArguments
) -> types.CallToolResult:
    notifications: list[dict[str, Any]] = json.loads(await stores.notifications.list(user_id, unread=True))
    lines = [f"{len(notifications)} unread notification{'' if len(notifications) == 1 else 's'}"]
    lines += [
        f"- reminder for task {n['task_id']}: {n['title']} (at {n['remind_at']})" for n in notifications
    ]
    return types.CallToolResult(
        content=[types.TextContent(type="text", text="\n".join(lines))],
        structured_content={"notifications": notifications},
    )
