"""`tagshare backup`, `tagshare restore` and `tagshare key rotate`."""

from pathlib import Path

import click

from tagshare.cli import output
from tagshare.cli.confirm import confirm_destructive, yes_option
from tagshare.cli.context import home_option, open_current_node
from tagshare.node import backup as ops
from tagshare.node import keys as keys_ops


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
@yes_option
def restore(file: Path, yes: bool) -> None:
    """Replace the node's database with backup FILE (stop `serve` first). Shares are then
    re-sent in full, and granters are asked to resend, so peers converge on the restored
    state instead of silently diverging. Asks first on a terminal; elsewhere it refuses
    unless given --yes."""
    confirm_destructive(yes, f"Replace this node's database with {file}?")
    summary = ops.restore(open_current_node(), file)
    click.echo(f"restored from {file}: {summary['resent_shares']} granted share(s) will be "
               f"re-sent in full, {summary['resync_requests']} granter(s) asked to resend")


@click.group()
def key() -> None:
    """The node's keys."""


@key.command("rotate")
@home_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def key_rotate(as_json: bool) -> None:
    """Make new signing and encryption keys and tell every peer (the node id stays).

    Peers learn the new keys from a message signed with the old ones; from then on
    they refuse anything signed with the old key.
    """
    result = keys_ops.rotate_keys(open_current_node())
    if as_json:
        output.print_json(result)
        return
    click.echo(f"new signing key {result['signing_key']} (rotation {result['rotations']}); "
               f"{result['peers_told']} peer(s) will be told")
