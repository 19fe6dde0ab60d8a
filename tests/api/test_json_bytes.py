"""The exact bytes of task JSON: compact, in the documented field order, as every other JSON API.

PostgreSQL renders the JSON (repository.py); these pin what it renders, byte for byte, on every
endpoint that returns tasks.
"""

import re

import httpx

from ..support.auth import auth, new_user

TIMESTAMP = re.compile(rb'"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00)"')
TITLE = 'Grüße, "quoted" \\ slash'
DESCRIPTION = "tab\there\nnew line, and 🙂"
# How those two appear inside the JSON text: escapes for quote, backslash, tab, newline; UTF-8 kept.
TITLE_JSON = '"Grüße, \\"quoted\\" \\\\ slash"'
DESCRIPTION_JSON = '"tab\\there\\nnew line, and 🙂"'


def task_bytes(
    task_id: int,
    user: str,
    title: str,
    description: str,
    completed: bool,
    created: str,
    updated: str,
    completed_at: str = "null",
) -> bytes:
    return (
        f'{{"id":{task_id},"user_id":"{user}","title":{title},"description":{description},'
        f'"completed":{"true" if completed else "false"},"priority":"medium","tags":[],"due_date":null,'
        f'"time_zone":"UTC","recurrence":null,"remind_at":null,"reminder_minutes_before":null,'
        f'"parent_task_id":null,"completed_at":{completed_at},"created_at":"{created}","updated_at":"{updated}"}}'
    ).encode()


def timestamps(body: bytes) -> list[str]:
    return [match.decode() for match in TIMESTAMP.findall(body)]


async def test_every_task_endpoint_answers_compact_json_bytes(client: httpx.AsyncClient) -> None:
    user = new_user()
    headers = auth(user)
    base = f"/api/{user}/tasks"

    assert (await client.get(base, headers=headers)).content == b"[]"
    assert (await client.get(base, params={"limit": 5}, headers=headers)).content == b"[]"

    created = await client.post(base, json={"title": TITLE, "description": DESCRIPTION}, headers=headers)
    assert created.status_code == 201
    task_id = created.json()["id"]
    created_at, updated_at = timestamps(created.content)
    assert created_at == updated_at
    first = task_bytes(task_id, user, TITLE_JSON, DESCRIPTION_JSON, False, created_at, updated_at)
    assert created.content == first
    assert created.headers["content-type"] == "application/json"

    assert (await client.get(f"{base}/{task_id}", headers=headers)).content == first

    second = await client.post(base, json={"title": "plain"}, headers=headers)
    second_id = second.json()["id"]
    second_bytes = task_bytes(second_id, user, '"plain"', "null", False, *timestamps(second.content))
    assert second.content == second_bytes

    # The whole list, a page, and a filtered page: elements joined by a bare comma.
    assert (await client.get(base, headers=headers)).content == b"[" + first + b"," + second_bytes + b"]"
    paged = await client.get(base, params={"limit": 1}, headers=headers)
    assert paged.content == b"[" + first + b"]"
    searched = await client.get(base, params={"q": "plain", "sort": "-updated_at"}, headers=headers)
    assert searched.content == b"[" + second_bytes + b"]"

    # Completing stamps completed_at with the change's own time; it stays until the task is reopened.
    put = await client.put(f"{base}/{task_id}", json={"title": "new", "completed": True}, headers=headers)
    done_at, _, put_at = timestamps(put.content)
    assert done_at == put_at
    assert put.content == task_bytes(
        task_id, user, '"new"', DESCRIPTION_JSON, True, created_at, put_at, f'"{done_at}"'
    )
    patched = await client.patch(f"{base}/{task_id}", json={"description": None}, headers=headers)
    assert patched.content == task_bytes(
        task_id, user, '"new"', "null", True, created_at, timestamps(patched.content)[-1], f'"{done_at}"'
    )
    toggled = await client.patch(f"{base}/{task_id}/complete", headers=headers)
    assert toggled.content == task_bytes(
        task_id, user, '"new"', "null", False, created_at, timestamps(toggled.content)[-1]
    )
