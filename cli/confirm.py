"""Confirmation before a command that destroys something: one rule for all of them.

Destructive commands (`people erase`, `peer remove`, `share leave`, `restore`) take
`--yes`. Without it they ask on a terminal and go on only if the answer is "y" or
"yes"; anything else, or standard input that is not a terminal (a pipe, a file,
cron), changes nothing and exits 1. A script must say `--yes`: `echo n | ...` and
`yes | ...` are never read as an answer.
"""

import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

YES_HELP = "Do not ask for confirmation (required when standard input is not a terminal)."


def yes_option(func: F) -> F:
    """The `--yes` flag of a destructive command."""
    return click.option("--yes", is_flag=True, help=YES_HELP)(func)


def confirm_destructive(yes: bool, question: str) -> None:
    """Return only if the operator confirmed; otherwise exit 1 with nothing changed."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise click.ClickException(
            "standard input is not a terminal, so nothing was asked and nothing was "
            "changed: pass --yes to confirm")
    answer = click.prompt(f"{question} [y/N]", default="", show_default=False)
    if answer.strip().lower() not in ("y", "yes"):
        raise click.ClickException("not confirmed: nothing was changed")
