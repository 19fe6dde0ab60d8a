"""A JWKS served over HTTP on 127.0.0.1, and EdDSA tokens in the shape Better Auth's jwt plugin mints.

For what the real Better Auth server (better_auth.py) cannot be made to do on cue: drop a key from its
JWKS, or mint thousands of tokens for the benchmark.
"""

import base64
import json
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


class EdDSAKeys:
    """Ed25519 signing keys by kid, and the JWKS that publishes some of them."""

    def __init__(self, issuer: str) -> None:
        self.issuer = issuer
        self._keys: dict[str, Ed25519PrivateKey] = {}
        self.published: set[str] = set()

    def new_key(self) -> str:
        kid = uuid.uuid4().hex[:16]
        self._keys[kid] = Ed25519PrivateKey.generate()
        self.published.add(kid)
        return kid

    def token(self, user_id: str, kid: str, expires_in: int = 3600) -> str:
        """What Better Auth's jwt plugin signs: `sub`, `iat`, `exp`, and `iss`/`aud` its origin."""
        now = int(time.time())
        claims = {"sub": user_id, "iat": now, "exp": now + expires_in, "iss": self.issuer, "aud": self.issuer}
        return jwt.encode(claims, self._keys[kid], algorithm="EdDSA", headers={"kid": kid})

    def jwks(self) -> bytes:
        keys = []
        for kid in sorted(self.published):
            raw = (
                self._keys[kid]
                .public_key()
                .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
            )
            x = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
            keys.append({"kty": "OKP", "crv": "Ed25519", "x": x, "kid": kid, "alg": "EdDSA"})
        return json.dumps({"keys": keys}).encode()


@contextmanager
def jwks_server(keys: EdDSAKeys) -> Iterator[str]:
    """Serve `keys.jwks()` (as it is at each request) at the URL yielded."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = keys.jwks()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/api/auth/jwks"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
