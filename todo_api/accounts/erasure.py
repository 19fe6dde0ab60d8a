"""Erasing a user: every task, pending reminder, notification, event and idempotency record, in one
transaction, leaving one `user.erased` event (no task data) for the relay to tell other services.

`todo.quiet` silences the per-row event triggers meanwhile (migration 0006): the user's events are
being erased, and one event per deleted task would only re-create them. The quota row goes first, so
this takes the user's locks in the order every create does (migration 0007).
"""

import json

from ..db import Database

ERASE_SQL = (
    "DELETE FROM user_quotas WHERE user_id = %(user_id)s",
    "SELECT set_config('todo.quiet', 'on', true)",
    "DELETE FROM tasks WHERE user_id = %(user_id)s",
    "DELETE FROM notifications WHERE user_id = %(user_id)s",
    "DELETE FROM events WHERE user_id = %(user_id)s",
    "DELETE FROM idempotency_keys WHERE user_id = %(user_id)s",
    "SELECT set_config('todo.quiet', 'off', true)",
    "SELECT record_event(%(user_id)s, 'user.erased', %(user_id)s, %(data)s)",
)


async def erase_user(database: Database, user_id: str) -> None:
    """Idempotent: erasing a user with nothing left still writes its `user.erased` event."""
    params = {"user_id": user_id, "data": json.dumps({"user_id": user_id})}
    async with database.transaction() as transaction:
        for statement in ERASE_SQL:
            await transaction.execute(statement, params)
