"""tools/rename_to_tagshare.py rewrites module references, never prose or variables, once."""
# rename_to_tagshare: leave this file as it is (its samples are the old spelling on purpose)

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))

import rename_to_tagshare  # noqa: E402

BEFORE = '''\
"""Talks to node.sync; see the node folder (node.db is the database)."""
import subprocess
import sys

import cli
import node.sync as sync_module
from node import clock as clocks
from node.sync import WAKE_INTERVAL
from protocol import (
    b64u_encode,
)

DB_FILE = "node.db"
CODE = "from cli.main import main; main()"


def run(node, monkeypatch):
    monkeypatch.setattr("node.sync.WAKE_INTERVAL", 0)
    print(f"node {node.home} at {node.config.url}", node.conn)
    subprocess.run([sys.executable, "-m", "cli.main", "--help"])
    subprocess.run([sys.executable, "-c", CODE, "python -m node.demo"])
    raise ValueError("from node to node") from None
'''

AFTER = '''\
"""Talks to node.sync; see the node folder (node.db is the database)."""
import subprocess
import sys

from tagshare import cli
import tagshare.node.sync as sync_module
from tagshare.node import clock as clocks
from tagshare.node.sync import WAKE_INTERVAL
from tagshare.protocol import (
    b64u_encode,
)

DB_FILE = "node.db"
CODE = "from tagshare.cli.main import main; main()"


def run(node, monkeypatch):
    monkeypatch.setattr("tagshare.node.sync.WAKE_INTERVAL", 0)
    print(f"node {node.home} at {node.config.url}", node.conn)
    subprocess.run([sys.executable, "-m", "tagshare.cli.main", "--help"])
    subprocess.run([sys.executable, "-c", CODE, "python -m tagshare.node.demo"])
    raise ValueError("from node to node") from None
'''

PYPROJECT = '''\
[project.scripts]
tagshare = "cli.main:main"

[tool.setuptools.packages.find]
include = ["node*", "protocol*", "cli*"]

[tool.setuptools.package-data]
"node.admin" = ["templates/*.html"]

[tool.ruff.lint]
select = ["E"]
'''


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    for package in ("node", "node/admin", "protocol", "cli"):
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    for module in ("node/sync.py", "node/home.py", "node/demo.py", "cli/main.py"):
        (tmp_path / module).write_text("")
    (tmp_path / "cli" / "use.py").write_text(BEFORE)
    (tmp_path / "pyproject.toml").write_text(PYPROJECT)
    (tmp_path / "README.md").write_text("Run `python -m cli.main`; a node is a server.\n"
                                        "```python\nfrom node.sync import Worker\n```\n")
    return tmp_path


def test_rewrites_imports_and_module_strings_but_not_prose_or_names(tree: Path) -> None:
    assert rename_to_tagshare.main([str(tree), "--no-ruff"]) == 0
    assert (tree / "cli" / "use.py").read_text() == AFTER
    assert (tree / "README.md").read_text() == (
        "Run `python -m tagshare.cli.main`; a node is a server.\n"
        "```python\nfrom tagshare.node.sync import Worker\n```\n")


def test_pyproject_installs_one_tagshare_package(tree: Path) -> None:
    rename_to_tagshare.main([str(tree), "--no-ruff"])
    text = (tree / "pyproject.toml").read_text()
    assert 'tagshare = "tagshare.cli.main:main"' in text
    assert "packages.find" not in text
    assert '"tagshare.node.admin" = ["templates/*.html"]' in text
    assert ('packages = [\n    "tagshare.cli",\n    "tagshare.node",\n    "tagshare.node.admin",\n'
            '    "tagshare.protocol",\n]') in text
    assert 'known-first-party = ["tagshare"]' in text


def test_a_second_run_changes_nothing(tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rename_to_tagshare.main([str(tree), "--no-ruff"])
    once = {p: p.read_text() for p in tree.rglob("*") if p.is_file()}
    capsys.readouterr()
    assert rename_to_tagshare.main([str(tree), "--check"]) == 0
    assert "0 files would change." in capsys.readouterr().out
    assert {p: p.read_text() for p in tree.rglob("*") if p.is_file()} == once


def test_lists_what_it_could_not_rewrite(tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tree / "cli" / "odd.py").write_text('import node.sync\nTARGET = "node.sync.Worker"\n')
    rename_to_tagshare.main([str(tree), "--no-ruff"])
    out = capsys.readouterr().out
    assert "cli/odd.py:1: `import node.sync` binds the name 'node'" in out
    assert "cli/odd.py:1: old import `node.sync`" in out
    assert "cli/odd.py:2: 'node.sync.Worker' in a string" in out
