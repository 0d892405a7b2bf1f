"""`tagshare backup` and `tagshare restore`."""

import sys
from pathlib import Path

import click

from cli.context import home_option, open_current_node
from node import backup as ops


@click.command()
@home_option
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite FILE if it exists.")
def backup(file: Path, force: bool) -> None:
    """Copy the node's database to FILE (safe while `serve` runs). Keys are not included:
    keep keys.json safe separately."""
    size = ops.backup(open_current_node(), file, force=force)
    click.echo(f"backed up {size} bytes to {file}")
    click.echo("the backup holds the data, not the keys: keep keys.json safe too", err=True)


@click.command()
@home_option
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def restore(file: Path, yes: bool) -> None:
    """Replace the node's database with backup FILE (stop `serve` first). Shares are then
    re-sent in full, and granters are asked to resend, so peers converge on the restored
    state instead of silently diverging."""
    if not yes and sys.stdin.isatty():
        click.confirm(f"Replace this node's database with {file}?", abort=True)
    summary = ops.restore(open_current_node(), file)
    click.echo(f"restored from {file}: {summary['resent_shares']} granted share(s) will be "
               f"re-sent in full, {summary['resync_requests']} granter(s) asked to resend")
