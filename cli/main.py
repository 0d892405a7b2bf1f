"""The `tagshare` command: one node's command line."""

import click

from tagshare.cli import output
from tagshare.cli.context import (
    TagshareGroup,
    home_option,
    home_path,
    open_current_node,
    passphrase_option,
)
from tagshare.cli.coordination import contacts
from tagshare.cli.dashboard import dashboard
from tagshare.cli.demo import demo
from tagshare.cli.federation import invite, peer, serve
from tagshare.cli.maintenance import backup, key, restore
from tagshare.cli.matching import match
from tagshare.cli.osdi import api_token, osdi
from tagshare.cli.people import people
from tagshare.cli.records import contact, donation, tag
from tagshare.cli.shares import share, sync
from tagshare.cli.status import status
from tagshare.cli.tls import tls
from tagshare.node import people as people_ops
from tagshare.node.keystore import read_passphrase_file
from tagshare.node.node import init_node


@click.group(cls=TagshareGroup, context_settings={"help_option_names": ["-h", "--help"]})
@home_option
@passphrase_option
@click.version_option(package_name="tagshare")
def cli() -> None:
    """tagshare: a federated relationship database for political organizing.

    Each organization runs one node; nodes that trust each other pair and share
    tags, signed and encrypted, directly from node to node.
    """


@cli.command()
@home_option
@click.option("--name", required=True, help="The organization's name, e.g. 'Ohio Senate 12'.")
@click.option("--url", help="The URL peers reach this node at (default http://127.0.0.1:7440).")
@click.option("--passphrase-file", "passphrase_file", type=click.Path(dir_okay=False),
              help="Seal the private keys with the passphrase in this file (Argon2id).")
def init(name: str, url: str | None, passphrase_file: str | None) -> None:
    """Create a new node: database, signing and encryption keys, config."""
    passphrase = read_passphrase_file(passphrase_file) if passphrase_file else None
    node = init_node(home_path(), name=name, url=url, passphrase=passphrase)
    try:
        click.echo(f"Created node {node.config.name!r} in {node.home}")
        click.echo(f"node id:     {node.node_id}")
        click.echo(f"fingerprint: {node.fingerprint}")
    finally:
        node.close()


@cli.command("id")
@home_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def show_id(as_json: bool) -> None:
    """Show this node's id, fingerprint, name and URL."""
    identity = open_current_node().identity()
    if as_json:
        output.print_json(identity)
    else:
        output.print_fields(list(identity.items()))


@cli.command()
@home_option
@click.option("--limit", type=click.IntRange(min=1), help="Show only the newest N entries.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def audit(limit: int | None, as_json: bool) -> None:
    """The audit log: who exported, imported, erased or granted what, and when."""
    entries = people_ops.audit_log(open_current_node(), limit)
    if as_json:
        output.print_json(entries)
        return
    output.print_table(
        ["at", "actor", "action", "detail"],
        [[e["at"], e["actor"], e["action"],
          " ".join(f"{k}={v}" for k, v in e["detail"].items())] for e in entries],
    )


cli.add_command(people)
cli.add_command(tag)
cli.add_command(contact)
cli.add_command(donation)
cli.add_command(serve)
cli.add_command(invite)
cli.add_command(peer)
cli.add_command(share)
cli.add_command(sync)
cli.add_command(backup)
cli.add_command(restore)
cli.add_command(key)
cli.add_command(demo)
cli.add_command(contacts)
cli.add_command(match)
cli.add_command(api_token)
cli.add_command(osdi)
cli.add_command(tls)
cli.add_command(dashboard)
cli.add_command(status)


def main() -> None:
    cli(prog_name="tagshare")


if __name__ == "__main__":
    main()
