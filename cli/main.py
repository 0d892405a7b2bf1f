"""The `tagshare` command: one node's command line."""

import importlib
from collections.abc import Iterator, MutableMapping

import click

from tagshare.cli import output
from tagshare.cli.context import (
    TagshareGroup,
    home_option,
    home_path,
    open_current_node,
    passphrase_option,
)
from tagshare.node import people as people_ops
from tagshare.node.keystore import read_passphrase_file
from tagshare.node.node import init_node


class CommandsOnDemand(MutableMapping[str, click.Command]):
    """The commands of a group, each module imported the first time its command is looked
    up (to run it, list it in --help, document it), not all at every start: importing
    every module (aiohttp, the dashboard's templates) took 0.5 s of each command's 0.6."""

    def __init__(self, where: dict[str, str]) -> None:
        self._commands: dict[str, click.Command | str] = dict(where)  # or "module:name"

    def __getitem__(self, name: str) -> click.Command:
        command = self._commands[name]
        if isinstance(command, str):
            module, attribute = command.split(":")
            command = getattr(importlib.import_module(module), attribute)
            assert isinstance(command, click.Command)
            self._commands[name] = command
        return command

    def __setitem__(self, name: str, command: click.Command) -> None:
        self._commands[name] = command

    def __delitem__(self, name: str) -> None:
        del self._commands[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._commands)

    def __len__(self) -> int:
        return len(self._commands)


_COMMANDS = {
    "people": "tagshare.cli.people:people",
    "tag": "tagshare.cli.records:tag",
    "contact": "tagshare.cli.records:contact",
    "donation": "tagshare.cli.records:donation",
    "serve": "tagshare.cli.federation:serve",
    "invite": "tagshare.cli.federation:invite",
    "peer": "tagshare.cli.federation:peer",
    "share": "tagshare.cli.shares:share",
    "sync": "tagshare.cli.shares:sync",
    "backup": "tagshare.cli.maintenance:backup",
    "restore": "tagshare.cli.maintenance:restore",
    "key": "tagshare.cli.maintenance:key",
    "demo": "tagshare.cli.demo:demo",
    "contacts": "tagshare.cli.coordination:contacts",
    "match": "tagshare.cli.matching:match",
    "api-token": "tagshare.cli.osdi:api_token",
    "osdi": "tagshare.cli.osdi:osdi",
    "tls": "tagshare.cli.tls:tls",
    "dashboard": "tagshare.cli.dashboard:dashboard",
    "status": "tagshare.cli.status:status",
}


@click.group(cls=TagshareGroup, context_settings={"help_option_names": ["-h", "--help"]},
             commands=CommandsOnDemand(_COMMANDS))
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


def main() -> None:
    cli(prog_name="tagshare")


if __name__ == "__main__":
    main()
