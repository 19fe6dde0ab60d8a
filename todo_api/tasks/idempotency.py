"""Retry-safe creates (draft-ietf-httpapi-idempotency-key-header): the first response to each of a
user's `Idempotency-Key`s, stored in the create's own transaction and replayed for 24 hours.

A transaction-level advisory lock on (user, key) marks a request in flight: a second one with the
same key while the first runs gets `KeyInFlight` (409), whichever instance it reached; once the first
has committed, its row answers the retries, without the lock (concurrent replays never conflict).
Only a created task is stored: a refused create (422, 409) may be retried with the same key.
"""

import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from ..db import Database, Transaction

KEY_LOCK_SPACE = 7022  # any fixed number, unlike the other lock spaces
KEPT_HOURS = 24
IN_FLIGHT_SQL = "SELECT pg_try_advisory_xact_lock(%(space)s, hashtext(%(user_id)s || ' ' || %(key)s))"
STORED_SQL = """SELECT fingerprint, body, version FROM idempotency_keys
    WHERE user_id = %(user_id)s AND key = %(key)s
        AND created_at > now() - make_interval(hours => %(hours)s)"""
STORE_SQL = """INSERT INTO idempotency_keys (user_id, key, fingerprint, body, version)
    VALUES (%(user_id)s, %(key)s, %(fingerprint)s, %(body)s, %(version)s)
    ON CONFLICT (user_id, key) DO UPDATE SET fingerprint = EXCLUDED.fingerprint, body = EXCLUDED.body,
        version = EXCLUDED.version, created_at = now()"""
PURGE_SQL = """DELETE FROM idempotency_keys WHERE ctid = ANY(ARRAY(SELECT ctid FROM idempotency_keys
    WHERE created_at < now() - make_interval(hours => %(hours)s) LIMIT 1000)) RETURNING 1"""


class KeyInFlight(Exception):
    """Another request with this key has not finished yet."""


class KeyReused(Exception):
    """The key was used with another request body."""


@dataclass(frozen=True)
class IdempotencyKey:
    key: str
    fingerprint: str  # of the request's values: the same body, however it was spelled

    @classmethod
    def of(cls, key: str, values: dict[str, Any]) -> "IdempotencyKey":
        canonical = json.dumps(values, sort_keys=True, default=str, separators=(",", ":"))
        return cls(key, hashlib.sha256(canonical.encode()).hexdigest())


async def create_once(
    transaction: Transaction,
    user_id: str,
    key: IdempotencyKey,
    create: Callable[[], Awaitable[tuple[str, int]]],
) -> tuple[str, int]:
    """The stored (body, version) for this key, or `create()`'s, stored with it in this transaction."""
    where = {"user_id": user_id, "key": key.key}
    if replayed := await _stored(transaction, where, key):  # a retry of a finished create: no lock
        return replayed
    [[free]] = await transaction.execute(IN_FLIGHT_SQL, where | {"space": KEY_LOCK_SPACE})
    if not free:
        raise KeyInFlight
    if replayed := await _stored(transaction, where, key):  # finished while we took the lock
        return replayed
    body, version = await create()
    params = where | {"fingerprint": key.fingerprint, "body": body, "version": version}
    await transaction.execute(STORE_SQL, params)
    return body, version


async def _stored(
    transaction: Transaction, where: dict[str, str], key: IdempotencyKey
) -> tuple[str, int] | None:
    rows = await transaction.execute(STORED_SQL, where | {"hours": KEPT_HOURS})
    if not rows:
        return None
    fingerprint, body, version = rows[0]
    if fingerprint != key.fingerprint:
        raise KeyReused
    return str(body), int(version)


async def purge_idempotency_keys(database: Database) -> None:
    """Keys past their 24 hours, a batch at a time."""
    while await database.execute(PURGE_SQL, {"hours": KEPT_HOURS}):
        pass
