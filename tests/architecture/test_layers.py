"""The house rules of docs/architecture.md, checked on the source itself.

Each rule names what may import what: dependencies point inward (edge -> use cases -> domain <-
adapters), the database driver and HTTP client stay inside their adapters, the Slack side knows
no gateway's wire format, and no module imports itself through others (lazy imports included,
since a circle dodged by a function-level import is still a circle).
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "bot"
MAX_LINES = 700


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


MODULES = _modules()


def _imports(name: str, path: Path) -> Iterator[str]:
    """Every module `name` imports, at any depth of the file (lazy imports too)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            yield base
            for alias in node.names:
                yield f"{base}.{alias.name}"


def _project_imports(name: str) -> set[str]:
    return {target for target in _imports(name, MODULES[name]) if target in MODULES}


def _within(name: str, *prefixes: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def _offenders(
    sources: Callable[[str], bool], forbidden: tuple[str, ...], *, external: bool
) -> list[tuple[str, str]]:
    """(module, import) pairs where a module that `sources` selects imports a forbidden name."""
    found = []
    for name, path in MODULES.items():
        if not sources(name):
            continue
        targets = set(_imports(name, path)) if external else _project_imports(name)
        found += [(name, t) for t in sorted(targets) if _within(t, *forbidden)]
    return found


def test_no_import_circles() -> None:
    graph = {name: _project_imports(name) - {name} for name in MODULES}
    # A package importing its own submodules is how Python packages are built, not a circle.
    for name in graph:
        graph[name] = {t for t in graph[name] if not _within(t, name)}
    cycles = []
    state: dict[str, int] = {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                cycles.append([*stack[stack.index(target) :], target])
            elif target not in state:
                visit(target, [*stack, target])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert cycles == []


def _inside(*prefixes: str) -> Callable[[str], bool]:
    return lambda name: _within(name, *prefixes)


def _outside(*prefixes: str) -> Callable[[str], bool]:
    return lambda name: not _within(name, *prefixes)


def test_the_domain_depends_on_nothing_of_the_project() -> None:
    outer = tuple(n for n in MODULES if not _within(n, "bot.domain") and n != "bot")
    assert _offenders(_inside("bot.domain"), outer, external=False) == []


def test_sqlite_is_imported_only_by_its_storage_adapter() -> None:
    assert _offenders(_outside("bot.storage.sqlite"), ("sqlite3",), external=True) == []


@pytest.mark.parametrize("client", ["requests", "urllib3", "httpx"])
def test_http_clients_are_imported_only_by_gateway_adapters(client: str) -> None:
    # The console talks HTTP to the app it runs and plays Slack: neither is a gateway.
    allowed = _outside("bot.gateway", "bot.console", "bot.testing")
    assert _offenders(allowed, (client,), external=True) == []


def test_the_slack_side_knows_no_gateway_wire_format() -> None:
    slack_side = _inside("bot.app", "bot.listeners", "bot.blocks", "bot.slack", "bot.usecases")
    wire = ("bot.gateway.clickatell_http", "bot.gateway.clickatell_platform")
    assert _offenders(slack_side, wire, external=False) == []


def test_use_cases_know_neither_slack_nor_sql() -> None:
    outer = ("slack_sdk", "slack_bolt", "sqlite3", "psycopg", "bot.listeners", "bot.blocks")
    assert _offenders(_inside("bot.usecases"), outer, external=True) == []


def test_only_the_composition_root_and_the_command_line_open_adapters() -> None:
    adapters = (
        "bot.storage.sqlite",
        "bot.storage.postgres",
        "bot.gateway.clickatell_http",
        "bot.gateway.clickatell_platform",
    )
    # The adapters' own packages, the storage factory, and the test kit (which starts sandboxes).
    openers = _outside(
        "bot.container", "bot.gateway_cli", "bot.cli", "bot.storage", "bot.gateway", "bot.testing"
    )
    assert _offenders(openers, adapters, external=False) == []


def test_no_module_is_too_long_to_read() -> None:
    lengths = {name: len(path.read_text().splitlines()) for name, path in MODULES.items()}
    assert {name: n for name, n in lengths.items() if n > MAX_LINES} == {}
