"""`tagshare contacts ...`: field work across organizations."""

import click

from tagshare.cli import output
from tagshare.cli.context import home_option, open_current_node
from tagshare.node import coordination as ops


@click.group()
def contacts() -> None:
    """Contacts from every organization whose contacts reach this node."""


@contacts.command("overlap")
@home_option
@click.option("--since", default=ops.DEFAULT_WINDOW, show_default=True, metavar="WINDOW",
              help="How far back to look, e.g. 14d, 48h.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def overlap(since: str, as_json: bool) -> None:
    """People contacted by more than one organization in the window, with who and when."""
    overlaps = ops.contact_overlap(open_current_node(), since)
    if as_json:
        output.print_json(overlaps)
        return
    output.print_table(
        ["person", "name", "organization", "method", "outcome", "at", "by"],
        [[entry["person"]["uuid"], entry["person"]["name"], c["organization"], c["method"],
          c["outcome"], c["at"], c["by"]]
         for entry in overlaps for c in entry["contacts"]])
