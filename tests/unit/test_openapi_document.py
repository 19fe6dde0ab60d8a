"""The OpenAPI document as frontends consume it: valid OpenAPI 3.1, every parameter declared,
every response with its headers, and the committed copy (clients/typescript/) up to date."""

import re
from typing import Any

import pytest
from openapi_spec_validator import validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

from todo_api.cli.openapi import render
from todo_api.main import openapi_document as document

from ..support import REPO

COMMITTED = REPO / "clients" / "typescript" / "openapi.json"


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return document()


def operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method, path, op) for path, item in spec["paths"].items() for method, op in item.items()]


def test_document_is_valid_openapi_3_1(spec: dict[str, Any]) -> None:
    assert spec["openapi"].startswith("3.1.")
    validate(spec)  # raises, naming the problem, when invalid


def test_validator_refuses_an_undeclared_path_parameter(spec: dict[str, Any]) -> None:
    """The check above can fail: the document as it was (user_id in paths, in no parameter list)."""
    broken = document()
    for _, _, operation in operations(broken):
        operation["parameters"] = [p for p in operation.get("parameters", []) if p["name"] != "user_id"]
    with pytest.raises(OpenAPIValidationError, match="user_id"):
        validate(broken)


def test_every_path_parameter_is_declared_and_user_id_says_it_is_the_tokens(spec: dict[str, Any]) -> None:
    task_operations = 0
    for method, path, operation in operations(spec):
        declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
        assert declared == set(re.findall(r"{(\w+)}", path)), (method, path)
        if "{user_id}" in path:
            task_operations += 1
            (user_id,) = [p for p in operation["parameters"] if p["name"] == "user_id"]
            assert user_id["required"] is True
            assert user_id["schema"]["type"] == "string"
            assert "must equal the token's user" in user_id["description"]
    assert task_operations == 13  # the seven task operations, /tags, three on notifications, /events, erasure


def headers_of(operation: dict[str, Any], status: str) -> set[str]:
    return set(operation["responses"][status].get("headers", {}))


def test_every_response_documents_its_headers(spec: dict[str, Any]) -> None:
    for method, path, operation in operations(spec):
        if not path.startswith("/api/"):
            continue
        where = (method, path)
        assert headers_of(operation, "401") == {"WWW-Authenticate"}, where
        assert headers_of(operation, "503") == {"Retry-After"}, where
        for status in ("200", "201"):
            if status in operation["responses"]:
                expected = {"X-Total-Count", "Link"} if where == ("get", "/api/{user_id}/tasks") else {"ETag"}
                if not path.startswith("/api/{user_id}/tasks"):  # tags and notifications have no versions
                    expected = set()
                assert headers_of(operation, status) == expected, (where, status)
        for status in ("304", "412"):
            if status in operation["responses"]:
                assert headers_of(operation, status) == {"ETag"}, (where, status)
        for status, response in operation["responses"].items():
            if status >= "400":
                assert "application/json" in response["content"], (where, status)


def test_committed_document_is_current() -> None:
    assert COMMITTED.read_text() == render(), "run `make client` and commit clients/typescript/"
