"""Development tokens: what a frontend's own HS256 route signs, for trying the API by hand."""

import time

import jwt


def issue_token(secret: bytes, user_id: str, minutes: int = 60) -> str:
    now = int(time.time())
    return jwt.encode({"sub": user_id, "iat": now, "exp": now + minutes * 60}, secret, algorithm="HS256")
