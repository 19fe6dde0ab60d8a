"""`python -m todo_api.openapi`: print the OpenAPI document, built by the app factory without a database.

`make client` feeds it to openapi-typescript; the tests compare it with the committed copy in
clients/typescript/. Nothing here connects anywhere: the document does not depend on the
settings, so a placeholder secret and database URL are enough.
"""

import json
import sys
from typing import Any

from sqlalchemy.engine import make_url

from .config import Settings
from .main import create_app

_PLACEHOLDER_SECRET = "placeholder-secret-only-to-build-the-document"  # noqa: S105 (never verifies anything)


def document() -> dict[str, Any]:
    settings = Settings(_env_file=None, better_auth_secret=_PLACEHOLDER_SECRET)  # type: ignore[call-arg, arg-type]
    app = create_app(settings, make_url("postgresql+psycopg://unused@localhost/unused"))
    return app.openapi()


def render() -> str:
    """The document as committed: stable key order, two-space indent, final newline."""
    return json.dumps(document(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
