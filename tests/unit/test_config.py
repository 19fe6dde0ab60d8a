"""Configuration: Neon URLs used as printed, origins derived from BETTER_AUTH_URL."""

import pytest
from sqlalchemy.engine import URL

from todo_api.config import ConfigError, Settings
from todo_api.storage.urls import external_database_url, to_psycopg_url

from ..support.apps import make_settings

NEON = "ep-cool-name-123456.us-east-2.aws.neon.tech"
POOLER = "ep-cool-name-123456-pooler.us-east-2.aws.neon.tech"


@pytest.mark.parametrize(
    ("printed", "query"),
    [
        (
            f"postgresql://alex:AbC123@{NEON}/neondb?sslmode=require&channel_binding=require",
            {"sslmode": "require", "channel_binding": "require"},
        ),
        (
            f"postgres://alex:AbC123@{POOLER}/neondb?sslmode=require",
            {"sslmode": "require"},
        ),
        (
            f"postgresql://alex:AbC123@{NEON}/neondb?sslmode=require&options=endpoint%3Dep-cool-name-123456",
            {"sslmode": "require", "options": "endpoint=ep-cool-name-123456"},
        ),
    ],
)
def test_neon_urls_keep_every_query_parameter(printed: str, query: dict[str, str]) -> None:
    url = to_psycopg_url(printed, "NEON_DATABASE_URL")
    assert url.drivername == "postgresql+psycopg"
    assert dict(url.query) == query
    assert url.database == "neondb"


def test_percent_encoded_password_survives() -> None:
    url = to_psycopg_url(f"postgresql://alex:p%40ss%2Fw%3Ard@{NEON}/neondb", "NEON_DATABASE_URL")
    assert url.password == "p@ss/w:rd"
    assert "p@ss" not in str(url)  # str() hides the password


@pytest.mark.parametrize("bad", ["mysql://u:secretpw@h/db", "secretpw", "http://u:secretpw@h/db"])
def test_unusable_urls_raise_a_message_without_the_password(bad: str) -> None:
    with pytest.raises(ConfigError) as raised:
        to_psycopg_url(bad, "NEON_DATABASE_URL")
    assert "NEON_DATABASE_URL" in str(raised.value)
    assert "secretpw" not in str(raised.value)


def test_cors_origin_is_the_origin_of_better_auth_url_plus_extras() -> None:
    settings = make_settings(
        better_auth_url="https://app.example.com/api/auth/",
        cors_origins="https://preview.example.com/, https://app.example.com",
    )
    assert settings.allowed_origins == ["https://app.example.com", "https://preview.example.com"]


def test_blank_database_url_means_embedded() -> None:
    assert external_database_url(make_settings(neon_database_url="  ")) is None


def test_secret_is_required_and_never_shown() -> None:
    with pytest.raises(ConfigError, match="BETTER_AUTH_SECRET"):
        make_settings(better_auth_secret=None).require_secret()
    settings = make_settings(better_auth_secret="s3cr3t-value")
    assert "s3cr3t-value" not in repr(settings)
    assert settings.require_secret() == b"s3cr3t-value"


def test_transaction_pooler_is_detected_from_neon_host() -> None:
    settings: Settings = make_settings()
    pooled = URL.create("postgresql+psycopg", host="ep-cool-name-123456-pooler.us-east-2.aws.neon.tech")
    direct = URL.create("postgresql+psycopg", host="ep-cool-name-123456.us-east-2.aws.neon.tech")
    assert settings.behind_transaction_pooler(pooled)
    assert not settings.behind_transaction_pooler(direct)
    assert make_settings(database_pool_mode="transaction").behind_transaction_pooler(direct)
