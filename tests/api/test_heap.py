"""The heap once the app has started (main._settle_the_heap): full collections skip what start-up built."""

import gc

import httpx

from todo_api.main import GC_YOUNG_THRESHOLD


async def test_start_up_leaves_its_objects_out_of_every_later_collection(client: httpx.AsyncClient) -> None:
    assert (await client.get("/health")).status_code == 200  # the app has started
    # The modules, routes and schemas start-up built: a full collection, which stalls every request
    # in flight while it runs, no longer walks them.
    assert gc.get_freeze_count() > 50_000
    assert gc.get_threshold()[0] == GC_YOUNG_THRESHOLD
