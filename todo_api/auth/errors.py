"""Why a token was not accepted."""


class TokenError(Exception):
    """The token is not acceptable. `reason` is a short code for logs, never shown to clients."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class KeysUnavailable(Exception):
    """The token needs a key from a JWKS that cannot be fetched right now."""
