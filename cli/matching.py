"""`tagshare match ...`: review people that might be several local people."""

import click

from tagshare.cli import output
from tagshare.cli.context import home_option, open_current_node
from tagshare.node import matching as ops


@click.group()
def match() -> None:
    """People left for review, not merged: received people and imported rows that might be
    several local people, or one of another name."""


@match.command("list")
@home_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def match_list(as_json: bool) -> None:
    """Ambiguous people, each with the local people it could be and why it was not merged.

    FROM is the peer a received person came from, or `import` for an imported row
    that was added as a new person.
    """
    cases = ops.ambiguous_cases(open_current_node())
    if as_json:
        output.print_json(cases)
        return
    output.print_table(
        ["person", "from", "name", "email", "phone", "candidate", "candidate name",
         "matched on", "reason"],
        [[case["uuid"], case["peer"] or case["source"], case["name"], case["email"],
          case["phone"], c["uuid"], c["name"], c["matched_on"], case["reason"]]
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
    """Mark RECEIVED as nobody on this node: never linked automatically. Audited.

    RECEIVED may also be the uuid of an imported row listed by `match list`:
    it is then kept as a person of its own and leaves the list.
    """
    person = ops.keep_apart(open_current_node(), received)
    click.echo(f"{person} kept apart from this node's people")
