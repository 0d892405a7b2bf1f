"""`tagshare tag|contact|donation ...`: what hangs off a person."""

import click

from tagshare.cli import output
from tagshare.cli.context import home_option, open_current_node
from tagshare.node import people as ops


@click.group()
def tag() -> None:
    """Tags on people."""


@tag.command("add")
@home_option
@click.argument("person")
@click.argument("tags", nargs=-1, required=True)
def tag_add(person: str, tags: tuple[str, ...]) -> None:
    """Tag PERSON with one or more TAGS; prints how many taggings were new.

    A tag name has no comma and no quote character (an apostrophe inside a
    name, as in women's-caucus, is fine).
    """
    uuid, added = ops.add_tags(open_current_node(), person, list(tags))
    click.echo(f"{uuid}: {added} tag(s) added")


@tag.command("remove")
@home_option
@click.argument("person")
@click.argument("tags", nargs=-1, required=True)
def tag_remove(person: str, tags: tuple[str, ...]) -> None:
    """Remove one or more TAGS from PERSON."""
    uuid, removed = ops.remove_tags(open_current_node(), person, list(tags))
    click.echo(f"{uuid}: {removed} tag(s) removed")


@tag.command("list")
@home_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def tag_list(as_json: bool) -> None:
    """All tags with how many people carry each."""
    tags = ops.list_tags(open_current_node())
    if as_json:
        output.print_json(tags)
    else:
        output.print_table(["tag", "people"], [[t["name"], t["people"]] for t in tags])


@click.group()
def contact() -> None:
    """Field contacts: door knocks, calls, texts."""


@contact.command("add")
@home_option
@click.argument("person")
@click.option("--method", required=True, type=click.Choice(ops.CONTACT_METHODS),
              help="How the contact happened.")
@click.option("--outcome", help="What came of it, e.g. 'supporter', 'not home'.")
@click.option("--note", help="Free text.")
@click.option("--at", help="When (ISO 8601); default now.")
@click.option("--by", help="Who made the contact.")
def contact_add(person: str, method: str, outcome: str | None, note: str | None,
                at: str | None, by: str | None) -> None:
    """Log a field contact with PERSON; prints the contact's uuid."""
    click.echo(ops.add_contact(open_current_node(), person, method=method, outcome=outcome,
                               note=note, at=at, by=by))


@click.group()
def donation() -> None:
    """Donations."""


@donation.command("add")
@home_option
@click.argument("person")
@click.option("--amount", required=True, help="Amount, e.g. 25.00.")
@click.option("--currency", default="USD", show_default=True, help="ISO 4217 code.")
@click.option("--at", help="When (ISO 8601); default now.")
def donation_add(person: str, amount: str, currency: str, at: str | None) -> None:
    """Record a donation by PERSON; prints the donation's uuid."""
    click.echo(ops.add_donation(open_current_node(), person, amount=amount,
                                currency=currency, at=at))
