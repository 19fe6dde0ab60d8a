"""HTTP conditional requests for tasks: strong ETags, If-Match (412) and If-None-Match (304)."""


def etag(version: int) -> str:
    return f'"{version}"'


def if_match_versions(header: str | None) -> list[int] | None:
    """The versions an `If-Match` accepts; None when any version will do (absent, or `*`).

    Strong comparison (RFC 9110 §13.1.1): weak tags never match, and neither does a tag we never
    issued, so a list of only those yields [] and the write fails with 412.
    """
    if header is None or header.strip() == "*":
        return None
    return [version for tag in header.split(",") if (version := _strong_version(tag.strip())) is not None]


def none_match(header: str | None, version: int) -> bool:
    """True when `If-None-Match` matches the current version (weak comparison): answer 304."""
    if header is None:
        return False
    if header.strip() == "*":
        return True
    tags = (tag.strip().removeprefix("W/") for tag in header.split(","))
    return any(_strong_version(tag) == version for tag in tags)


def _strong_version(tag: str) -> int | None:
    inner = tag[1:-1] if len(tag) >= 2 and tag[0] == tag[-1] == '"' else ""
    # Only what we could have issued: ASCII digits of a PostgreSQL bigint.
    return int(inner) if inner.isascii() and inner.isdigit() and int(inner) < 2**63 else None
