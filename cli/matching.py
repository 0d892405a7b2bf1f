"""`tagshare match ...`: review received people that match several local people."""

import click

from cli import output
from cli.context import home_option, open_current_node
from node import matching as ops


@click.group()
def match() -> None:
    """Received people whose email or phone matches more than one local person."""


@match.command("list")
@home_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def match_list(as_json: bool) -> None:
    """Ambiguous received people, each with the local people it could be."""
    cases = ops.ambiguous_cases(open_current_node())
    if as_json:
        output.print_json(cases)
        return
    output.print_table(
        ["received", "from", "name", "email", "phone", "candidate", "candidate name",
         "matched on"],
        [[case["uuid"], case["peer"], case["name"], case["email"], case["phone"],
          c["uuid"], c["name"], c["matched_on"]]
         for case in cases for c in case["candidates"] or [_NONE]])


_NONE = {"uuid": None, "name": None, "matched_on": None}


@match.command("link")
@home_option
@click.argument("received")
@click.argument("local")
def match_link(received: str, local: str) -> None:
    """Link RECEIVED (a received person) to LOCAL (one of this node's own people).

    Each is a uuid, an email or a phone. The decision stands when the
    granter later updates the person. Audited.
    """
    person, target = ops.link(open_current_node(), received, local)
    click.echo(f"linked {person} to {target}")


@match.command("keep-apart")
@home_option
@click.argument("received")
def match_keep_apart(received: str) -> None:
    """Mark RECEIVED as nobody on this node: never linked automatically. Audited."""
    person = ops.keep_apart(open_current_node(), received)
    click.echo(f"{person} kept apart from this node's people")
