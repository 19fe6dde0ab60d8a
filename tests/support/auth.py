"""Users, tokens and auth headers for the tests."""

import time
import uuid
from typing import Any

import jwt

SECRET = "test-secret-0123456789-abcdefghijklmnopqrstuvwxyz"


def new_user() -> str:
    """A user id no other test uses, so tests share one database without interfering."""
    return f"user-{uuid.uuid4().hex[:12]}"


def make_token(
    user_id: str | None,
    /,  # so that a claim named `user_id` can be passed too
    *,
    secret: str = SECRET,
    expires_in: int = 3600,
    algorithm: str = "HS256",
    **claims: Any,
) -> str:
    now = int(time.time())
    payload: dict[str, Any] = {"iat": now, "exp": now + expires_in, **claims}
    if user_id is not None:
        payload["sub"] = user_id
    return jwt.encode(payload, secret.encode(), algorithm=algorithm)


def auth(user_id: str, **kwargs: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {make_token(user_id, **kwargs)}"}
