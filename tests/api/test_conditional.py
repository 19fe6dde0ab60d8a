"""Conditional requests: ETags, If-Match (412, never a silent overwrite), If-None-Match (304), PATCH."""

import asyncio

import httpx
import pytest

from ..support.auth import auth, new_user
from ..support.tasks import post_task


async def test_every_task_response_carries_a_strong_etag_that_changes_with_the_task(
    client: httpx.AsyncClient,
) -> None:
    user = new_user()
    created = await post_task(client, user, title="Draft", description="v1")
    url = f"/api/{user}/tasks/{created.json()['id']}"
    tags = [created.headers["etag"]]
    tags.append((await client.get(url, headers=auth(user))).headers["etag"])
    assert tags[0] == tags[1]
    for response in [
        await client.put(url, json={"title": "T2"}, headers=auth(user)),
        await client.patch(url, json={"description": "v2"}, headers=auth(user)),
        await client.patch(f"{url}/complete", headers=auth(user)),
    ]:
        assert response.status_code == 200
        tags.append(response.headers["etag"])
    assert all(tag.startswith('"') and tag.endswith('"') for tag in tags)  # strong
    assert len(set(tags)) == 4


async def test_if_none_match_gives_304_until_the_task_changes(client: httpx.AsyncClient) -> None:
    user = new_user()
    created = await post_task(client, user, title="Draft", description="v1")
    url = f"/api/{user}/tasks/{created.json()['id']}"
    tag = created.headers["etag"]
    for header in [tag, f"W/{tag}", f'"1", {tag}', "*"]:
        response = await client.get(url, headers=auth(user) | {"If-None-Match": header})
        assert response.status_code == 304
        assert response.content == b""
        assert response.headers["etag"] == tag
    await client.patch(f"{url}/complete", headers=auth(user))
    assert (await client.get(url, headers=auth(user) | {"If-None-Match": tag})).status_code == 200


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("PUT", "", {"title": "Mine"}),
        ("PATCH", "", {"title": "Mine"}),
        ("PATCH", "/complete", None),
        ("DELETE", "", None),
    ],
)
async def test_stale_if_match_is_412_and_changes_nothing(
    client: httpx.AsyncClient, method: str, suffix: str, body: dict[str, str] | None
) -> None:
    user = new_user()
    created = await post_task(client, user, title="Draft", description="v1")
    url = f"/api/{user}/tasks/{created.json()['id']}"
    stale = created.headers["etag"]
    current = await client.patch(url, json={"description": "v2"}, headers=auth(user))

    for header in [stale, f"W/{current.headers['etag']}", '"garbage"']:
        response = await client.request(
            method, url + suffix, json=body, headers=auth(user) | {"If-Match": header}
        )
        assert response.status_code == 412
        assert "detail" in response.json()
        assert response.headers["etag"] == current.headers["etag"]
    assert (await client.get(url, headers=auth(user))).json() == current.json()

    fresh = await client.request(
        method,
        url + suffix,
        json=body,
        headers=auth(user) | {"If-Match": f"{stale}, {current.headers['etag']}"},
    )
    assert fresh.status_code in (200, 204)


async def test_if_match_on_a_missing_task_is_404(client: httpx.AsyncClient) -> None:
    user = new_user()
    response = await client.put(
        f"/api/{user}/tasks/987654321", json={"title": "x"}, headers=auth(user) | {"If-Match": '"1"'}
    )
    assert response.status_code == 404


async def test_two_editors_with_if_match_never_overwrite_each_other(client: httpx.AsyncClient) -> None:
    user = new_user()
    created = await post_task(client, user, title="Draft", description="v1")
    url = f"/api/{user}/tasks/{created.json()['id']}"
    tag = created.headers["etag"]

    responses = await asyncio.gather(
        *(
            client.put(url, json={"title": f"Editor {n}"}, headers=auth(user) | {"If-Match": tag})
            for n in range(10)
        )
    )

    winners = [r for r in responses if r.status_code == 200]
    assert len(winners) == 1
    assert sorted(r.status_code for r in responses) == [200] + [412] * 9
    assert (await client.get(url, headers=auth(user))).json()["title"] == winners[0].json()["title"]


async def test_without_if_match_last_write_wins(client: httpx.AsyncClient) -> None:
    user = new_user()
    created = await post_task(client, user, title="Draft", description="v1")
    url = f"/api/{user}/tasks/{created.json()['id']}"
    await client.put(url, json={"title": "first"}, headers=auth(user))
    response = await client.put(url, json={"title": "second"}, headers=auth(user))
    assert response.status_code == 200
    assert response.json()["title"] == "second"


async def test_patch_changes_only_the_fields_sent(client: httpx.AsyncClient) -> None:
    user = new_user()
    created = (await post_task(client, user, title="Draft", description="v1")).json()
    url = f"/api/{user}/tasks/{created['id']}"
    done = (await client.patch(url, json={"completed": True}, headers=auth(user))).json()
    assert (done["title"], done["description"], done["completed"]) == ("Draft", "v1", True)
    renamed = (await client.patch(url, json={"title": "  Final  "}, headers=auth(user))).json()
    assert (renamed["title"], renamed["description"], renamed["completed"]) == ("Final", "v1", True)
    cleared = (await client.patch(url, json={"description": None}, headers=auth(user))).json()
    assert cleared["description"] is None


async def test_empty_patch_changes_nothing(client: httpx.AsyncClient) -> None:
    user = new_user()
    created = await post_task(client, user, title="Draft", description="v1")
    url = f"/api/{user}/tasks/{created.json()['id']}"
    response = await client.patch(url, json={}, headers=auth(user))
    assert response.status_code == 200
    assert response.json() == created.json()
    assert response.headers["etag"] == created.headers["etag"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"title": None}, "title"),
        ({"title": ""}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"description": "d" * 1001}, "description"),
        ({"completed": "yes"}, "completed"),
    ],
)
async def test_patch_validates_like_put(
    client: httpx.AsyncClient, body: dict[str, object], field: str
) -> None:
    user = new_user()
    created = (await post_task(client, user, title="Draft", description="v1")).json()
    url = f"/api/{user}/tasks/{created['id']}"
    response = await client.patch(url, json=body, headers=auth(user))
    assert response.status_code == 422
    assert field in [error["loc"][-1] for error in response.json()["detail"]]
    assert (await client.get(url, headers=auth(user))).json() == created


@pytest.mark.parametrize(
    "tag", [b'"9999999999999999999"', '"\u0661\u0662"'.encode(), b'"-1"', b'""', b"W/", b'"1']
)
async def test_odd_if_match_values_are_412_not_500(client: httpx.AsyncClient, tag: bytes) -> None:
    user = new_user()
    created = await post_task(client, user, title="Draft", description="v1")
    url = f"/api/{user}/tasks/{created.json()['id']}"
    token = auth(user)["Authorization"].encode()
    response = await client.put(url, json={"title": "x"}, headers={b"Authorization": token, b"If-Match": tag})
    assert response.status_code == 412
    none_match = await client.get(url, headers={b"Authorization": token, b"If-None-Match": tag})
    assert none_match.status_code == 200
