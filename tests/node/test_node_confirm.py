"""Destructive commands ask on a terminal and refuse elsewhere without --yes (issue 11, item 10).

`echo n | tagshare people erase X` used to erase: the question was skipped when standard
input was not a terminal. Each refusal here shows the whole database unchanged.
"""

from __future__ import annotations

import os
import pty
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from received_helpers import Peer

if TYPE_CHECKING:
    from conftest import Tagshare  # tests/node/conftest.py

ROOT = Path(__file__).resolve().parents[2]


def snapshot(home: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table, to show that a refused command changed nothing."""
    with closing(sqlite3.connect(home / "node.db")) as conn:
        tables = [name for (name,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
        return {table: sorted(map(tuple, conn.execute(f'SELECT * FROM "{table}"')), key=repr)
                for table in tables}


@pytest.fixture
def peer(node: Tagshare) -> Peer:
    peer = Peer(node.home, "Rivera Campaign", local_tag="rivera:volunteers")
    return peer.with_real_node_id(b"r" * 32)


def destructive_commands(node: Tagshare, peer: Peer, tmp_path: Path) -> list[list[str]]:
    backup = tmp_path / "before.db"
    node.ok("backup", str(backup))
    return [
        ["people", "erase", "ann@example.org"],
        ["peer", "remove", "Rivera Campaign"],
        ["share", "leave", peer.share],
        ["restore", str(backup)],
    ]


@pytest.mark.parametrize("answer", ["n\n", "y\n", "yes\n", ""])
def test_without_a_terminal_nothing_is_destroyed_whatever_comes_in(
        node: Tagshare, peer: Peer, tmp_path: Path, answer: str) -> None:
    node.add("--first-name", "Ann", "--email", "ann@example.org")
    peer.send("a1b2c3d4-0000-7000-8000-000000000001", first_name="Bo", email="bo@example.org")
    for command in destructive_commands(node, peer, tmp_path):
        before = snapshot(node.home)
        error = node.fails(*command, input=answer)
        assert "--yes" in error and "nothing was changed" in error, command
        assert snapshot(node.home) == before, f"{command} changed the database"


def test_with_yes_each_destructive_command_runs(
        node: Tagshare, peer: Peer, tmp_path: Path) -> None:
    node.add("--first-name", "Ann", "--email", "ann@example.org")
    commands = destructive_commands(node, peer, tmp_path)
    for command in commands[:3]:
        node.ok(*command, "--yes")
    assert node.count("people") == 0
    with node.db() as conn:
        assert conn.execute("SELECT status FROM peers").fetchone()[0] == "removed"
        assert conn.execute("SELECT status FROM shares").fetchone()[0] == "left"
    node.ok(*commands[3], "--yes")
    assert node.count("people") == 1  # the backup held Ann


def run_on_a_terminal(home: Path, args: list[str], answer: str) -> subprocess.CompletedProcess[str]:
    """Run the real `tagshare` with a pseudo-terminal as standard input, typing `answer`."""
    controller, terminal = pty.openpty()
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "tagshare.cli.main", "--home", str(home), *args],
            stdin=terminal, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            cwd=ROOT)
        os.write(controller, answer.encode())
        out, err = process.communicate(timeout=60)
    finally:
        os.close(terminal)
        os.close(controller)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


@pytest.mark.parametrize("answer", ["n\n", "\n", "maybe\n", "no\n"])
def test_on_a_terminal_anything_but_yes_aborts(node: Tagshare, answer: str) -> None:
    node.add("--first-name", "Ann", "--email", "ann@example.org")
    before = snapshot(node.home)
    result = run_on_a_terminal(node.home, ["people", "erase", "ann@example.org"], answer)
    assert result.returncode == 1, result
    assert "Erase ann@example.org and everything about them? [y/N]" in result.stdout
    assert "not confirmed: nothing was changed" in result.stderr
    assert snapshot(node.home) == before


@pytest.mark.parametrize("answer", ["y\n", "YES\n"])
def test_on_a_terminal_yes_erases(node: Tagshare, answer: str) -> None:
    node.add("--first-name", "Ann", "--email", "ann@example.org")
    result = run_on_a_terminal(node.home, ["people", "erase", "ann@example.org"], answer)
    assert result.returncode == 0, result
    assert result.stdout.strip().endswith(next(iter(node.json("audit")))["detail"]["person"])
    assert node.count("people") == 0
