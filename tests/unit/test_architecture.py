"""The layout's rules (docs/architecture.md), read from the imports of every module of the package."""

import ast
from pathlib import Path

from ..support import REPO

PACKAGE = REPO / "todo_api"


def _module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports() -> dict[str, set[str]]:
    """Each module of ours, and the modules of ours it imports (migrations aside: Alembic loads them)."""
    paths = {_module_name(path): path for path in PACKAGE.rglob("*.py") if "migrations" not in path.parts}
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
                target = ".".join([*base, *([node.module] if node.module else [])])
                for alias in node.names:
                    full = f"{target}.{alias.name}"
                    found.add(full if full in paths else target)
            elif isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
        graph[name] = {module for module in found if module in paths and module != name}
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, str] = {}

    def visit(module: str, path: list[str]) -> list[str] | None:
        state[module] = "open"
        for imported in sorted(graph[module]):
            if state.get(imported) == "open":
                return [*path[path.index(imported) :], imported]
            if imported not in state and (found := visit(imported, [*path, imported])):
                return found
        state[module] = "done"
        return None

    for module in sorted(graph):
        if module not in state and (found := visit(module, [module])):
            return found
    return None


def test_the_rule_reads_real_imports() -> None:
    graph = _imports()
    assert "todo_api.auth.jwks" in graph["todo_api.auth.jwt"]
    assert "todo_api.tasks.repository" in graph["todo_api.routes.tasks"]
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_no_module_imports_itself_back() -> None:
    assert _cycle(_imports()) is None


def test_auth_knows_nothing_of_tasks() -> None:
    for module, imported in _imports().items():
        if module.startswith("todo_api.auth"):
            foreign = {m for m in imported if not m.startswith(("todo_api.auth", "todo_api.observability"))}
            assert foreign == set(), module


def test_command_lines_are_entry_points_only() -> None:
    for module, imported in _imports().items():
        if not module.startswith(("todo_api.cli", "todo_api.__main__")):
            assert not any(m.startswith("todo_api.cli") for m in imported), module
