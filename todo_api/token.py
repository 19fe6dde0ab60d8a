"""`python -m todo_api.token USER_ID [MINUTES]`: print a dev token signed with BETTER_AUTH_SECRET."""

import sys
import time

import jwt

from .config import exit_on_config_error, load_settings


def issue_token(secret: bytes, user_id: str, minutes: int = 60) -> str:
    now = int(time.time())
    return jwt.encode({"sub": user_id, "iat": now, "exp": now + minutes * 60}, secret, algorithm="HS256")


def main() -> None:
    if not 2 <= len(sys.argv) <= 3:
        raise SystemExit("usage: python -m todo_api.token USER_ID [MINUTES]")
    with exit_on_config_error():
        secret = load_settings().require_secret()
    minutes = int(sys.argv[2]) if len(sys.argv) == 3 else 60
    print(issue_token(secret, sys.argv[1], minutes))


if __name__ == "__main__":
    main()
