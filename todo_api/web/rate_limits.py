"""Rate limits per user, and per client address for requests without a valid token, with the `limits`
library's storage: fixed windows aligned to the clock, counted in Redis when `REDIS_URL` is set (shared
by every instance), else in this process's memory (each instance then counts on its own).

With Redis, an instance takes a block of a user's window at a time (1/20 of it: 30 of 600 requests)
with one atomic increment, and serves the block from memory: one round trip per block, not per
request, and the shared count never lets the instances together exceed the limit. What an instance
reserved and did not use is spent all the same, so a user moving between N instances may be limited
up to (N - 1) blocks early. A limit under 20 per window is a block of 1: exact, a round trip each.

A window is also the burst allowance: a user who has been idle may spend a whole window's requests at
once (and, across a window's end, up to twice that in a short time). Answers carry the
draft-ietf-httpapi-ratelimit-headers fields (`RateLimit-Policy`, `RateLimit`), and a 429 also
`Retry-After`. When Redis fails, the
request is served unlimited (fail open): logged, counted, and Redis is left alone for a second so
that no request waits on it.
"""

import logging
import math
import time
from dataclasses import dataclass

from fastapi import HTTPException, Request, status
from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage

from ..observability.metrics import RATE_LIMITED, RATE_LIMITER_FAILURES

logger = logging.getLogger(__name__)

TOO_MANY = "Too many requests; retry after the number of seconds in Retry-After"
BYPASS_SECONDS = 1.0  # after a Redis failure, how long requests skip it
LEASES_PER_WINDOW = 20  # with Redis, an instance takes a window's requests in blocks of 1/20
MAX_LEASES = 100_000
STATE_KEY = "rate_limit_headers"  # where a verdict's fields wait for the edge to put them on the answer


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    headers: dict[str, str]


class RateLimits:
    """The request gate `AuthenticatedRoute` calls: `admitted` after a valid token, `refused` after not."""

    def __init__(self, per_user: str, unauthenticated: str, redis_url: str | None) -> None:
        self._per_user, self._anonymous = parse(per_user), parse(unauthenticated)
        storage: Storage = MemoryStorage()
        if redis_url:  # short timeouts: a slow Redis must not slow the requests
            storage = RedisStorage(
                f"async+{redis_url}",
                implementation="redispy",
                socket_timeout=0.25,
                socket_connect_timeout=0.25,
            )
        self._storage, self._shared = storage, bool(redis_url)
        self._leases: dict[tuple[str, str], _Lease] = {}
        self._bypass_until = 0.0

    async def admitted(self, request: Request, user_id: str) -> None:
        await self._gate(request, self._per_user, "user", user_id)

    async def refused(self, request: Request) -> None:
        address = request.client.host if request.client else "unknown"
        await self._gate(request, self._anonymous, "address", address)

    async def _gate(self, request: Request, item: RateLimitItem, kind: str, who: str) -> None:
        verdict = await self._check(item, kind, who)
        if verdict is None:
            return
        request.scope.setdefault("state", {})[STATE_KEY] = verdict.headers
        if not verdict.allowed:
            RATE_LIMITED.labels(kind).inc()
            raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS, TOO_MANY, verdict.headers)

    async def _check(self, item: RateLimitItem, kind: str, who: str) -> Verdict | None:
        window = item.get_expiry()
        now = time.time()
        start = now - now % window  # windows aligned to the clock: every instance agrees on its reset
        lease = self._leases.get((kind, who))
        if lease is None or lease.window != start or (lease.left == 0 and not lease.exhausted):
            if time.monotonic() < self._bypass_until:
                return None
            lease = await self._reserve(item, kind, who, start)
            if lease is None:
                return None
        allowed = lease.left > 0
        lease.left -= allowed
        remaining = max(0, item.amount - lease.count) + lease.left
        return Verdict(allowed, _headers(item, kind, remaining, start + window, allowed))

    async def _reserve(self, item: RateLimitItem, kind: str, who: str, start: float) -> "_Lease | None":
        """A block of the window's requests for this instance, taken from the shared count at once."""
        block = max(1, item.amount // LEASES_PER_WINDOW) if self._shared else 1
        try:
            count = await self._storage.incr(
                item.key_for(kind, who, str(int(start))), item.get_expiry(), block
            )
        except Exception as error:  # Redis away or failing: serve the request unlimited
            self._bypass_until = time.monotonic() + BYPASS_SECONDS
            RATE_LIMITER_FAILURES.inc()
            logger.warning(
                "rate limiter unavailable; serving unlimited", extra={"error": type(error).__name__}
            )
            return None
        granted = max(0, min(block, item.amount - (count - block)))
        if len(self._leases) > MAX_LEASES:  # forget the windows that are over
            self._leases = {k: v for k, v in self._leases.items() if v.window == start}
        lease = self._leases[(kind, who)] = _Lease(start, granted, count, exhausted=granted == 0)
        return lease


@dataclass
class _Lease:
    window: float  # its start
    left: int  # requests of the block still to serve here
    count: int  # the shared count after the block was taken
    exhausted: bool  # nothing was left in the window: ask no more until it ends


def _headers(item: RateLimitItem, kind: str, remaining: int, reset: float, allowed: bool) -> dict[str, str]:
    seconds = max(1, math.ceil(reset - time.time()))
    policy = f'"{kind}";q={item.amount};w={item.get_expiry()}'
    headers = {"RateLimit-Policy": policy, "RateLimit": f'"{kind}";r={max(0, remaining)};t={seconds}'}
    return headers if allowed else headers | {"Retry-After": str(seconds)}
