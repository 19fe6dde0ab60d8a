"""The rules of a task's text fields, shared by the REST bodies, the list parameters and the MCP tools."""

from typing import Annotated

from pydantic import AfterValidator, StringConstraints, WithJsonSchema

from ..models import DESCRIPTION_MAX_LENGTH, TITLE_MAX_LENGTH

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
