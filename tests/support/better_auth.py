"""A real Better Auth server (npm `better-auth`, jwt + bearer plugins) for the tests to get tokens from.

`tests/support/better_auth_server/server.mjs` signs users up and mints tokens through Better Auth's own
`/api/auth/token`, and serves its JWKS at `/api/auth/jwks`, on 127.0.0.1.
"""

import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from .tools import require

NODE_PROJECT = Path(__file__).parent / "better_auth_server"
ISSUER_SECRET = "better-auth-secret-for-tests-0123456789abcdef"


def require_node() -> None:
    """Skip where Node.js is missing, unless CI demands these tests (REQUIRE_BETTER_AUTH=1)."""
    ready = shutil.which("node") and (NODE_PROJECT / "node_modules" / "better-auth").is_dir()
    require(
        ready,
        "BETTER_AUTH",
        "needs Node.js and `npm ci` in tests/support/better_auth_server (make test does it)",
    )


@dataclass
class Issuer:
    base_url: str
    process: subprocess.Popen[str]

    def mint(self, email: str | None = None) -> tuple[str, str]:
        """Sign a user up through Better Auth and return (JWT from /api/auth/token, user id)."""
        body = {
            "email": email or f"{uuid.uuid4().hex[:12]}@example.com",
            "password": "correct-horse-9",
            "name": "T",
        }
        response = httpx.post(f"{self.base_url}/test/mint", json=body, timeout=20)
        response.raise_for_status()
        data = response.json()
        return data["token"], data["userId"]

    def jwks(self) -> dict[str, Any]:
        keys: dict[str, Any] = httpx.get(f"{self.base_url}/api/auth/jwks", timeout=10).json()
        return keys

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


@contextmanager
def better_auth(alg: str = "EdDSA", **env: str) -> Iterator[Issuer]:
    require_node()
    process = subprocess.Popen(
        ["node", "server.mjs"],
        cwd=NODE_PROJECT,
        env=os.environ | {"PORT": "0", "SECRET": ISSUER_SECRET, "JWT_ALG": alg, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().split()
        assert line[:1] == ["READY"], f"Better Auth did not start: {line}"
        yield Issuer(f"http://127.0.0.1:{line[1]}", process)
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(10)


def decode_segment(segment: str) -> dict[str, Any]:
    import base64

    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    return decoded
