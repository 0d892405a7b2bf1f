"""Shared CLI plumbing: the --home option, opening the node, turning errors into one line."""

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from tagshare.node.errors import NodeError
from tagshare.node.home import resolve_home
from tagshare.node.keystore import PASSPHRASE_ENV, passphrase_from_env, read_passphrase_file
from tagshare.node.node import Node, open_node

F = TypeVar("F", bound=Callable[..., Any])

HOME_HELP = "Node home folder (default: $TAGSHARE_HOME, else the user data folder)."


def _store_home(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value:
        ctx.meta["tagshare.home"] = value


def home_option(func: F) -> F:
    """--home on every command (it may also be given before the command name), and with it
    --passphrase-file, unless the command has one of its own (`init`)."""
    func = click.option("--home", type=click.Path(file_okay=False), expose_value=False,
                        callback=_store_home, is_eager=True, help=HOME_HELP)(func)
    declared = getattr(func, "__click_params__", [])
    if any("--passphrase-file" in param.opts for param in declared):
        return func
    return passphrase_option(func)


def _store_passphrase(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value:
        ctx.meta["tagshare.passphrase_file"] = value


def passphrase_option(func: F) -> F:
    """--passphrase-file: unlocks keys sealed with `init --passphrase-file`."""
    return click.option(
        "--passphrase-file", type=click.Path(dir_okay=False), expose_value=False,
        callback=_store_passphrase, is_eager=True,
        help=f"File holding the passphrase of the node's keys (default: ${PASSPHRASE_ENV}).",
    )(func)


def current_passphrase() -> bytes | None:
    path = click.get_current_context().meta.get("tagshare.passphrase_file")
    return read_passphrase_file(path) if path else passphrase_from_env()


def home_path() -> Path:
    ctx = click.get_current_context()
    return resolve_home(ctx.meta.get("tagshare.home"))


def open_current_node() -> Node:
    """Open the node for this command and close it when the command ends."""
    ctx = click.get_current_context()
    node = open_node(home_path(), current_passphrase())
    ctx.call_on_close(node.close)
    return node


class TagshareGroup(click.Group):
    """A group whose commands report NodeError as one line and exit 1, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except NodeError as exc:
            raise click.ClickException(str(exc)) from None
        except sqlite3.DatabaseError as exc:
            raise click.ClickException(
                f"database error: {exc}; if another tagshare is running, try again"
            ) from None
        except OSError as exc:
            if isinstance(exc, BrokenPipeError):
                raise
            where = f": {exc.filename}" if exc.filename else ""
            raise click.ClickException(f"{exc.strerror or exc}{where}") from None
