"""Tasks made through the API, as a client would."""

from typing import Any

import httpx

from .auth import auth


async def post_task(client: httpx.AsyncClient, user: str, **body: Any) -> httpx.Response:
    """`POST` a task of `user` (`{"title": "A task"}` unless a body is given), asserting the 201."""
    response = await client.post(f"/api/{user}/tasks", json=body or {"title": "A task"}, headers=auth(user))
    assert response.status_code == 201, response.text
    return response


async def create_task(client: httpx.AsyncClient, user: str, **body: Any) -> dict[str, Any]:
    """A new task of `user`, as the API returned it."""
    task: dict[str, Any] = (await post_task(client, user, **body)).json()
    return task


async def create_tasks(client: httpx.AsyncClient, user: str, titles: list[str]) -> list[dict[str, Any]]:
    """One task per title, created in this order."""
    return [await create_task(client, user, title=title) for title in titles]
