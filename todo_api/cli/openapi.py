"""`python -m todo_api.cli.openapi`: print the OpenAPI document as committed in clients/typescript/.

`make client` feeds it to openapi-typescript; the tests compare it with the committed copy.
"""

import json
import sys

from ..main import openapi_document


def render() -> str:
    """The document as committed: stable key order, two-space indent, final newline."""
    return json.dumps(openapi_document(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
