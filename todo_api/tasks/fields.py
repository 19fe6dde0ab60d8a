"""The rules of a task's text, priority and tags, shared by REST bodies, list parameters and MCP tools."""

from typing import Annotated, Literal

from pydantic import AfterValidator, BeforeValidator, StringConstraints, WithJsonSchema

from ..models import DESCRIPTION_MAX_LENGTH, MAX_TAGS, PRIORITIES, TAG_MAX_LENGTH, TITLE_MAX_LENGTH

# PostgreSQL text cannot hold NUL.
NO_NUL = r"^[^\x00]*$"


def _encodable(value: str) -> str:
    # JSON may escape half a surrogate pair ("\ud800"); such a string has no UTF-8 form to store.
    try:
        value.encode()
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text") from None
    return value


# The title rule as one JSON Schema pattern, so the OpenAPI document states it exactly: any
# surrounding whitespace, then 1-200 characters without NUL that begin and end with a non-space
# (a plain maxLength would count the whitespace that is trimmed away). "Whitespace" is spelled
# out as Unicode's White_Space, which is what pydantic trims; regex engines disagree on `\s`.
_WHITE_SPACE = r"\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_SPACE, _VISIBLE = f"[{_WHITE_SPACE}]", f"[^\\x00{_WHITE_SPACE}]"
# The same characters, to trim with (Python's own strip() also takes \x1c-\x1f, which are not).
_WHITE_SPACE_CHARS = "\t\n\x0b\x0c\r \x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000" + "".join(
    map(chr, range(0x2000, 0x200B))
)


def trim(text: str) -> str:
    """`text` without surrounding Unicode White_Space, as pydantic trims and the patterns say."""
    return text.strip(_WHITE_SPACE_CHARS)


TITLE_PATTERN = rf"^{_SPACE}*(?:{_VISIBLE}|{_VISIBLE}[^\x00]{{0,{TITLE_MAX_LENGTH - 2}}}{_VISIBLE}){_SPACE}*$"

Title = Annotated[
    str,
    StringConstraints(
        strict=True, strip_whitespace=True, min_length=1, max_length=TITLE_MAX_LENGTH, pattern=NO_NUL
    ),
    AfterValidator(_encodable),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": TITLE_PATTERN,
            "description": "Trimmed, then 1-200 characters",
            "examples": ["Buy groceries"],
        }
    ),
]
Description = Annotated[
    str,
    StringConstraints(strict=True, max_length=DESCRIPTION_MAX_LENGTH, pattern=NO_NUL),
    AfterValidator(_encodable),
]


def _case_insensitive(word: str) -> str:
    return "".join(f"[{c.lower()}{c.upper()}]" for c in word)


PriorityName = Literal["low", "medium", "high", "urgent"]
assert PriorityName.__args__ == PRIORITIES  # type: ignore[attr-defined]


def _lowercase(value: object) -> object:
    return value.lower() if isinstance(value, str) else value


Priority = Annotated[
    PriorityName,
    BeforeValidator(_lowercase),
    WithJsonSchema(
        {
            "type": "string",
            "enum": list(PRIORITIES),
            "description": "`low`, `medium`, `high` or `urgent`, in any case (`HIGH` is stored as `high`)",
            "examples": ["high"],
        }
    ),
]

# A tag: trimmed, then 1-32 characters, no comma and no control character. As one JSON Schema
# pattern (whitespace spelled out as for the title), for the array form and the comma-separated one.
_CONTROL = r"\x00-\x1f\x7f-\x9f"
_TAG_CHAR, _TAG_VISIBLE = f"[^,{_CONTROL}]", f"[^,{_CONTROL}{_WHITE_SPACE}]"
_TAG = (
    rf"{_SPACE}*(?:{_TAG_VISIBLE}|{_TAG_VISIBLE}{_TAG_CHAR}{{0,{TAG_MAX_LENGTH - 2}}}{_TAG_VISIBLE}){_SPACE}*"
)
_EMPTY = f"{_SPACE}*"
TAG_PATTERN = f"^{_TAG}$"
# Comma-separated: empty pieces (a trailing comma, "a,,b") are ignored; at most 20 tags.
TAG_LIST_PATTERN = rf"^(?:{_EMPTY},)*(?:{_TAG}(?:,(?:{_EMPTY},)*{_TAG}){{0,{MAX_TAGS - 1}}})?(?:,{_EMPTY})*$"


# The list filters: one or more priorities, one to 20 tags, comma-separated.
_PRIORITY = f"{_SPACE}*(?:{'|'.join(_case_insensitive(name) for name in PRIORITIES)}){_SPACE}*"
PRIORITY_LIST_PATTERN = f"^{_PRIORITY}(?:,{_PRIORITY})*$"
TAG_FILTER_PATTERN = rf"^(?:{_EMPTY},)*{_TAG}(?:,(?:{_EMPTY},)*{_TAG}){{0,{MAX_TAGS - 1}}}(?:,{_EMPTY})*$"


def check_tag(tag: str) -> str:
    """A tag as stored: trimmed; ValueError naming the rule it breaks."""
    tag = trim(tag)
    if not 1 <= len(tag) <= TAG_MAX_LENGTH:
        raise ValueError(f"each tag must be 1-{TAG_MAX_LENGTH} characters after trimming")
    if "," in tag or any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in tag):
        raise ValueError("a tag may not contain commas or control characters")
    return _encodable(tag)


def split_tags(value: str) -> list[str]:
    """`"work, home"` -> `["work", "home"]` (empty pieces dropped)."""
    return [piece for piece in map(trim, value.split(",")) if piece]


def _tag_list(value: object) -> list[str]:
    """Tags as stored: each checked, at most 20, duplicates dropped in any case (first spelling kept)."""
    if isinstance(value, str):
        value = split_tags(value)
    if not isinstance(value, list) or not all(isinstance(tag, str) for tag in value):
        raise ValueError("must be a list of strings, or one comma-separated string")
    if len(value) > MAX_TAGS:
        raise ValueError(f"at most {MAX_TAGS} tags")
    seen: dict[str, str] = {}
    for tag in map(check_tag, value):
        seen.setdefault(tag.lower(), tag)
    return list(seen.values())


Tags = Annotated[
    list[str],
    BeforeValidator(_tag_list),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "array", "items": {"type": "string", "pattern": TAG_PATTERN}, "maxItems": MAX_TAGS},
                {"type": "string", "pattern": TAG_LIST_PATTERN},
            ],
            "description": (
                f"Up to {MAX_TAGS} tags, each trimmed, 1-{TAG_MAX_LENGTH} characters, without commas or"
                " control characters; duplicates (in any case) are dropped, the first spelling kept."
                ' One comma-separated string works too: "work, home".'
            ),
            "examples": [["work", "home"]],
        }
    ),
]
