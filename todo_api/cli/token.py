"""`python -m todo_api.cli.token USER_ID [MINUTES]` (`make token`): print a dev token (HS256)."""

import sys

from ..auth.dev_token import issue_token
from ..config import load_settings
from . import exit_on_config_error


def main() -> None:
    if not 2 <= len(sys.argv) <= 3:
        raise SystemExit("usage: python -m todo_api.cli.token USER_ID [MINUTES]")
    with exit_on_config_error():
        secret = load_settings().require_secret()
    minutes = int(sys.argv[2]) if len(sys.argv) == 3 else 60
    print(issue_token(secret, sys.argv[1], minutes))


if __name__ == "__main__":
    main()
