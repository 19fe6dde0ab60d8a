"""Tests that need a tool the machine may lack: skipped with the reason, or failed where CI says the
tool is there (`REQUIRE_<NAME>=1`, set by `.ci/run`)."""

import os
import shutil

import pytest


def require(ready: object, requirement: str, reason: str) -> None:
    """Skip with `reason` unless `ready`; fail instead when `REQUIRE_{requirement}=1`."""
    if ready:
        return
    if os.environ.get(f"REQUIRE_{requirement}") == "1":
        pytest.fail(f"REQUIRE_{requirement}=1 but {reason}")
    pytest.skip(reason)


def require_tool(name: str, requirement: str, install: str) -> str:
    """The path of the executable `name`, or a skip (or failure) saying how to install it."""
    path = shutil.which(name)
    require(path, requirement, f"{name} is not installed ({install})")
    assert path is not None
    return path
