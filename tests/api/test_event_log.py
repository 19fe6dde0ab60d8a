"""The event log's reads stay index range scans however long the log is: the hub's poll (5 a second
in every process with a stream open), a stream's replay, and the relay's batch."""

import re

import psycopg
import pytest
from psycopg.sql import Literal
from sqlalchemy.engine import URL

from todo_api.events.hub import NEW_SQL
from todo_api.events.log import AFTER_SQL
from todo_api.events.relay import UNPUBLISHED_SQL
from todo_api.storage.urls import libpq_dsn

LOGGED = 20_000
TYPES = {"after": "bigint", "gaps": "bigint[]", "user_id": "text", "batch": "int"}


def executed_plan(url: URL, sql: str, params: dict[str, object]) -> str:
    """EXPLAIN ANALYZE of `sql` as a prepared statement's generic plan (what psycopg runs after five
    executions), on a log of `LOGGED` events; everything is rolled back."""
    with psycopg.connect(libpq_dsn(url)) as conn:
        conn.execute(
            "INSERT INTO events (user_id, type, data, published_at)"
            " SELECT 'log-user-' || n %% 50, 'task.created', '{}', now() FROM generate_series(1, %s) n",
            (LOGGED,),
        )
        conn.execute("ANALYZE events")
        conn.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        last = conn.execute("SELECT max(id) FROM events").fetchone()
        assert last is not None
        names = list(params)
        numbered = re.sub(r"%\((\w+)\)s", lambda m: f"${names.index(m.group(1)) + 1}", sql)
        types = ", ".join(TYPES[name] for name in names)
        conn.execute(f"PREPARE logged({types}) AS {numbered}")
        values = [last[0] - 10 if value == "recent" else value for value in params.values()]
        arguments = ", ".join(Literal(value).as_string(conn) for value in values)
        rows = conn.execute(f"EXPLAIN ANALYZE EXECUTE logged({arguments})").fetchall()
        conn.rollback()
    return "\n".join(str(row[0]) for row in rows)


@pytest.mark.usefixtures("app")  # the schema
@pytest.mark.parametrize(
    ("sql", "params"),
    [
        (NEW_SQL, {"after": "recent", "gaps": [1, 2]}),
        (NEW_SQL, {"after": "recent", "gaps": []}),
        (AFTER_SQL, {"user_id": "log-user-7", "after": "recent"}),
        (UNPUBLISHED_SQL, {"batch": 100}),
    ],
    ids=["hub poll with gaps", "hub poll", "stream replay", "relay batch"],
)
def test_reads_of_the_log_never_scan_it(database_url: URL, sql: str, params: dict[str, object]) -> None:
    plan = executed_plan(database_url, sql, params)
    assert "Seq Scan" not in plan, plan
    removed = [int(n) for n in re.findall(r"Rows Removed by Filter: (\d+)", plan)]
    assert sum(removed) < 100, plan
