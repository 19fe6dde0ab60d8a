"""Configuration, read only from the environment and `.env` (FR-020, SC-010)."""

from functools import cached_property
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import URL

# How `python -m todo_api` hands the database it chose (maybe an embedded one) to its workers.
DATABASE_URL_VARIABLE = "TODO_API_DATABASE_URL"


class ConfigError(ValueError):
    """A setting is missing or unusable; the message is one line, safe to print."""


_RATE = r"^\s*\d+\s*(/|per)\s*\d*\s*(second|minute|hour|day)s?\s*$"  # `limits` notation: 600/minute


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    better_auth_secret: SecretStr | None = None
    better_auth_url: str = "http://localhost:3000"
    better_auth_jwks_url: str | None = None
    better_auth_issuer: str | None = None
    better_auth_audience: str | None = None
    cors_origins: str = Field(default="", description="Extra allowed origins, comma-separated.")

    neon_database_url: SecretStr | None = None
    data_dir: Path = Path(".data")

    host: str = "127.0.0.1"
    port: int = 8000
    log_level: Literal["critical", "error", "warning", "info", "debug"] = "info"

    # The pool opens `min_size` connections at start and grows to `size + max_overflow` on demand.
    database_pool_min_size: int = Field(default=2, ge=0)
    database_pool_size: int = Field(default=20, ge=1)
    database_max_overflow: int = Field(default=5, ge=0)
    # A busy pool is a queue: a request waits its turn up to this long (never past its deadline,
    # the statement timeout + 1 s), so a burst is served late rather than refused.
    database_pool_timeout: float = Field(default=10.0, gt=0)
    database_connect_timeout: int = Field(default=5, ge=2)
    database_pool_recycle: int = Field(default=240, ge=1)
    # Connections idle longer than this are checked with a ping before use (Neon drops idle ones).
    database_idle_check: float = Field(default=30.0, ge=0)
    database_statement_timeout: float = Field(default=15.0, gt=0)
    # "transaction" for PgBouncer in transaction mode; "auto" detects Neon's `-pooler` hosts.
    database_pool_mode: Literal["auto", "session", "transaction"] = "auto"
    workers: int = Field(default=1, ge=1, le=64)
    shutdown_timeout: int = Field(default=10, ge=1)

    # Prometheus metrics at GET /metrics; off, there is no endpoint and no per-request cost.
    metrics_enabled: bool = True
    # The task tools for AI agents at /mcp; off, there is no /mcp and no MCP metadata route.
    mcp_enabled: bool = True

    # Every instance runs the reminder scheduler unless this is off; it polls for due reminders.
    reminders_enabled: bool = True
    reminder_poll_interval: float = Field(default=1.0, gt=0, le=60)
    notification_retention_days: int = Field(default=30, ge=1)

    # Abuse limits: each user's quotas (a create past one is a 409), and request rates (429).
    max_tasks_per_user: int = Field(default=10_000, ge=1)
    max_reminders_per_user: int = Field(default=1_000, ge=0)
    rate_limit: str = Field(default="600/minute", pattern=_RATE)
    unauthenticated_rate_limit: str = Field(default="60/minute", pattern=_RATE)
    rate_limits_enabled: bool = True
    redis_url: SecretStr | None = None

    # The event log: how long events are kept (streams resume within it), and the NATS JetStream relay.
    event_retention_hours: int = Field(default=24, ge=1)
    events_nats_url: SecretStr | None = None
    events_nats_stream: str = Field(default="TODO_EVENTS", pattern=r"^[A-Za-z0-9_-]{1,64}$")
    events_source: str = Field(default="/todo-api", min_length=1, description="The CloudEvents `source`.")

    jwt_leeway_seconds: int = Field(default=30, ge=0, le=300)
    # The claim that holds the user id: Better Auth's jwt plugin puts it in `sub`; a frontend's own
    # HS256 token may use another name (the spec names `user_id` too).
    jwt_user_id_claim: str = Field(default="sub", min_length=1, max_length=64)
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)

    @field_validator("log_level", mode="before")
    @classmethod
    def _lowercase(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

    @field_validator(
        "neon_database_url",
        "events_nats_url",
        "redis_url",
        "better_auth_secret",
        "better_auth_jwks_url",
        "better_auth_issuer",
        "better_auth_audience",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        # `NEON_DATABASE_URL=` in a .env file means "not set", not "empty URL".
        return None if isinstance(value, str) and not value.strip() else value

    def require_secret(self) -> bytes:
        """The HS256 key: the secret's raw UTF-8 bytes, as the `jose` npm package signs."""
        if self.better_auth_secret is None:
            raise ConfigError(
                "BETTER_AUTH_SECRET is not set: put the Better Auth secret in the environment or .env"
            )
        return self.better_auth_secret.get_secret_value().encode()

    @cached_property
    def frontend_origin(self) -> str:
        """`BETTER_AUTH_URL` reduced to its origin (scheme://host[:port]), as browsers send it."""
        parts = urlsplit(self.better_auth_url.strip())
        if not parts.scheme or not parts.netloc:
            raise ConfigError("BETTER_AUTH_URL must be an absolute URL such as http://localhost:3000")
        return f"{parts.scheme}://{parts.netloc}"

    @property
    def jwks_url(self) -> str:
        """Where Better Auth's jwt plugin publishes its keys (`{base URL}/api/auth/jwks`)."""
        if self.better_auth_jwks_url:
            return self.better_auth_jwks_url
        base = self.better_auth_url.strip().rstrip("/")
        return f"{base}/jwks" if base.endswith("/api/auth") else f"{base}/api/auth/jwks"

    @property
    def token_issuer(self) -> str:
        # Better Auth sets `iss` and `aud` to the origin of its base URL.
        return self.better_auth_issuer or self.frontend_origin

    @property
    def token_audience(self) -> str:
        return self.better_auth_audience or self.frontend_origin

    @property
    def allowed_origins(self) -> list[str]:
        extra = [origin.strip().rstrip("/") for origin in self.cors_origins.split(",")]
        return list(dict.fromkeys([self.frontend_origin, *filter(None, extra)]))

    def behind_transaction_pooler(self, url: URL) -> bool:
        if self.database_pool_mode == "auto":
            return "-pooler" in (url.host or "")
        return self.database_pool_mode == "transaction"


def load_settings() -> Settings:
    """Settings from the environment; a malformed value is a one-line ConfigError."""
    try:
        return Settings()
    except ValidationError as error:
        problem = error.errors()[0]
        raise ConfigError(f"{str(problem['loc'][0]).upper()}: {problem['msg']}") from None
