"""clients/typescript/: the typed client a Next.js frontend uses, generated from our OpenAPI document.

The types must be what openapi-typescript makes of the current document (else `make client` was
not run), and the example must compile under `tsc --strict` against them and openapi-fetch.
"""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from todo_api.cli.openapi import render

from ..support import REPO

CLIENT = REPO / "clients" / "typescript"
BIN = CLIENT / "node_modules" / ".bin"
# A field with a default is optional in a request body (openapi-typescript's default makes it required).
GENERATE_FLAGS = ["--default-non-nullable", "false"]
pytestmark = pytest.mark.slow


def require_client_tools() -> None:
    """Skip without Node.js and the client's pinned packages, unless CI demands (REQUIRE_TS_CLIENT=1)."""
    if shutil.which("node") and (BIN / "openapi-typescript").exists() and (BIN / "tsc").exists():
        return
    message = "needs Node.js and `npm ci` in clients/typescript (make test does it when npm exists)"
    if os.environ.get("REQUIRE_TS_CLIENT") == "1":
        pytest.fail(message)
    pytest.skip(message)


def run(*args: str | Path, cwd: Path = CLIENT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(arg) for arg in args], cwd=cwd, capture_output=True, text=True, timeout=120)


def test_committed_types_are_a_fresh_generation(tmp_path: Path) -> None:
    require_client_tools()
    (tmp_path / "openapi.json").write_text(render())
    generated = tmp_path / "schema.d.ts"
    # `npm run generate` (what `make client` runs), on a document exported just now.
    script = json.loads((CLIENT / "package.json").read_text())["scripts"]["generate"]
    assert script == f"openapi-typescript openapi.json {' '.join(GENERATE_FLAGS)} --output schema.d.ts"
    result = run(
        BIN / "openapi-typescript", tmp_path / "openapi.json", *GENERATE_FLAGS, "--output", generated
    )
    assert result.returncode == 0, result.stderr
    assert (CLIENT / "schema.d.ts").read_text() == generated.read_text(), (
        "clients/typescript/schema.d.ts is stale: run `make client` and commit it"
    )


def test_example_compiles_with_strict_typescript() -> None:
    require_client_tools()
    result = run(BIN / "tsc", "--noEmit", "--strict", "-p", "tsconfig.json")
    assert result.returncode == 0, result.stdout + result.stderr


def test_strict_typescript_catches_a_wrong_call(tmp_path: Path) -> None:
    """The check above can fail: a call the document does not allow is a compile error."""
    require_client_tools()
    wrong = tmp_path / "wrong.ts"
    wrong.write_text(
        'import createClient from "openapi-fetch";\n'
        f'import type {{ paths }} from "{CLIENT / "schema"}";\n'
        "const api = createClient<paths>({ baseUrl: 'http://localhost:8000' });\n"
        "// no user_id in the path parameters, and a title that is a number\n"
        'void api.POST("/api/{user_id}/tasks", { params: { path: {} }, body: { title: 1 } });\n'
    )
    tsconfig = tmp_path / "tsconfig.json"
    tsconfig.write_text(
        (CLIENT / "tsconfig.json").read_text().replace('["example.ts", "schema.d.ts"]', f'["{wrong}"]')
    )
    # Resolve openapi-fetch from the client's node_modules.
    (tmp_path / "node_modules").symlink_to(CLIENT / "node_modules")
    result = run(BIN / "tsc", "--noEmit", "--strict", "-p", tsconfig, cwd=tmp_path)
    assert result.returncode != 0
    assert "user_id" in result.stdout
    assert "wrong.ts(5,71): error TS2322: Type 'number' is not assignable to type 'string'" in result.stdout
