"""Every command is documented in docs/cli.md, and the reference is current."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))

import cli_reference  # noqa: E402


def test_every_command_is_documented() -> None:
    text = (ROOT / "docs" / "cli.md").read_text()
    for path, _command in cli_reference.commands(cli_reference.cli):
        assert f"## `tagshare {path}`" in text, f"tagshare {path} is not in docs/cli.md"


def test_the_reference_matches_the_code() -> None:
    assert (ROOT / "docs" / "cli.md").read_text() == cli_reference.render(), \
        "docs/cli.md is stale: run python tools/cli_reference.py"
