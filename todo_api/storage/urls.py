"""Database URLs: Neon's as printed, pointed at psycopg 3, and rendered for libpq."""

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from ..config import ConfigError, Settings

# Schemes Neon's console and other providers print, all served by psycopg 3.
_POSTGRES_SCHEMES = {"postgres", "postgresql", "postgresql+psycopg"}


def libpq_dsn(url: URL) -> str:
    """The URL as libpq (psycopg, PgBouncer, psql) takes it, password included: never log it."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def to_psycopg_url(raw_url: str, variable: str) -> URL:
    """Parse a PostgreSQL URL as printed by Neon and point it at the psycopg 3 driver.

    The error message names the variable but never echoes the URL (it holds a password).
    """
    try:
        url = make_url(raw_url.strip())
    except ArgumentError:
        raise ConfigError(f"{variable} is not a valid database URL") from None
    if url.drivername not in _POSTGRES_SCHEMES:
        raise ConfigError(
            f"{variable} must start with postgresql:// or postgres:// (got {url.drivername}://)"
        )
    return url.set(drivername="postgresql+psycopg")


def external_database_url(settings: Settings) -> URL | None:
    """`NEON_DATABASE_URL` as a SQLAlchemy URL for psycopg, every query parameter kept."""
    if settings.neon_database_url is None:
        return None
    return to_psycopg_url(settings.neon_database_url.get_secret_value(), "NEON_DATABASE_URL")
