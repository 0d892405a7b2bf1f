"""Write docs/cli.md from the click command tree (run: python tools/cli_reference.py)."""

from __future__ import annotations

import inspect
import sys
from pathlib import Path

import click

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tagshare.cli.main import cli  # noqa: E402


def commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, click.Command]]:
    found: list[tuple[str, click.Command]] = []
    for name in sorted(group.commands):
        command = group.commands[name]
        path = (*prefix, name)
        if isinstance(command, click.Group):
            found.extend(commands(command, path))
        else:
            found.append((" ".join(path), command))
    return found


def render() -> str:
    lines = ["# Command reference", "",
             "Generated from the code by `python tools/cli_reference.py`; every command also",
             "has `--help`. Global options (before the command): `--home DIR`,",
             "`--passphrase-file FILE`.", ""]
    for path, command in commands(cli):
        lines += [f"## `tagshare {path}`", "", inspect.cleandoc(command.help or ""), ""]
        ctx = click.Context(command, info_name=f"tagshare {path}")
        lines += ["```", command.get_usage(ctx).strip(), "```", ""]
        for param in command.params:
            if isinstance(param, click.Option) and param.help and param.name != "home":
                lines.append(f"- `{', '.join(param.opts)}`: {param.help}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":
    (ROOT / "docs" / "cli.md").write_text(render())
