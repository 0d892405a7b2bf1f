"""protocol/ is sans-I/O: no network, storage, CLI, clock or randomness imports."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PROTOCOL_DIR = Path(__file__).resolve().parents[2] / "protocol"

FORBIDDEN_MODULES = {
    "aiohttp",
    "asyncio",
    "socket",
    "ssl",
    "http",
    "urllib",
    "requests",
    "httpx",
    "sqlite3",
    "sqlite_utils",
    "click",
    "time",
    "datetime",
    "random",
    "secrets",
    "uuid",
    "os",
    "subprocess",
    "threading",
    "node",
    "cli",
}
FORBIDDEN_PREFIXES = ("time.", "datetime.")
FORBIDDEN_ATTRIBUTES = {"now", "utcnow", "today", "urandom", "uuid1", "uuid4", "getrandbits"}


def protocol_files() -> list[Path]:
    files = sorted(PROTOCOL_DIR.glob("*.py"))
    assert files, "protocol/ has no modules?"
    return files


def imported_modules(tree: ast.AST) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def dotted_names(tree: ast.AST) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            parts = []
            current: ast.expr = node
            while isinstance(current, ast.Attribute):
                parts.append(current.attr)
                current = current.value
            if isinstance(current, ast.Name):
                parts.append(current.id)
            found.add(".".join(reversed(parts)))
        elif isinstance(node, ast.Name):
            found.add(node.id)
    return found


@pytest.mark.parametrize("path", protocol_files(), ids=lambda p: p.name)
def test_no_io_imports(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for name in imported_modules(tree):
        top = name.removeprefix("tagshare.").split(".")[0]  # installed as tagshare.protocol
        assert top not in FORBIDDEN_MODULES, f"{path.name} imports {name}"
        assert name != "nacl.utils.random", f"{path.name} imports randomness"


@pytest.mark.parametrize("path", protocol_files(), ids=lambda p: p.name)
def test_no_clock_or_randomness_calls(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for name in dotted_names(tree):
        assert not name.startswith(FORBIDDEN_PREFIXES), f"{path.name} uses {name}"
        if "." in name:  # a parameter called ``now`` is the point; ``x.now`` is not
            assert name.split(".")[-1] not in FORBIDDEN_ATTRIBUTES, f"{path.name} uses {name}"


def test_checker_catches_violations() -> None:
    bad = ast.parse("import time\nfrom os import urandom\nx = time.time()\ny = datetime.now()")
    assert {"time", "os", "os.urandom"} <= imported_modules(bad)
    names = dotted_names(bad)
    assert "time.time" in names and "datetime.now" in names
