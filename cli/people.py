"""`tagshare people ...`: add, edit, show, list, search, import, export, erase."""

import sys
from pathlib import Path
from typing import Any

import click

from tagshare.cli import output
from tagshare.cli.confirm import confirm_destructive, yes_option
from tagshare.cli.context import home_option, open_current_node
from tagshare.node import csvexport, csvio
from tagshare.node import people as ops
from tagshare.node.coordination import window_start
from tagshare.node.storage.people import PERSON_FIELDS


def person_field_options(func: Any) -> Any:
    for field in reversed(PERSON_FIELDS):
        flag = "--" + field.replace("_", "-")
        func = click.option(flag, field, help=f"The person's {field.replace('_', ' ')}.")(func)
    return func


@click.group()
def people() -> None:
    """People in this node's relationship database."""


@people.command("add")
@home_option
@person_field_options
@click.option("--tag", "tags", multiple=True, help="Tag the new person (repeatable).")
def add(tags: tuple[str, ...], **fields: str | None) -> None:
    """Add a person; prints the new uuid."""
    given = {k: v for k, v in fields.items() if v is not None}
    click.echo(ops.add_person(open_current_node(), given, list(tags)))


@people.command("edit")
@home_option
@click.argument("person")
@person_field_options
def edit(person: str, **fields: str | None) -> None:
    """Change fields of PERSON (a uuid, an email or a phone). An empty value clears a field."""
    given = {k: v for k, v in fields.items() if v is not None}
    click.echo(ops.edit_person(open_current_node(), person, given))


@people.command("show")
@home_option
@click.argument("person")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def show(person: str, as_json: bool) -> None:
    """Show PERSON with tags, contact history and donations."""
    data = ops.show_person(open_current_node(), person)
    if as_json:
        output.print_json(data)
        return
    pairs = [(k, data[k]) for k in ("uuid", "origin", *PERSON_FIELDS, "tags",
                                    "created_at", "updated_at", "version")]
    output.print_fields(pairs)
    if data["contacts"]:
        click.echo("\ncontacts:")
        output.print_table(["at", "method", "outcome", "by", "note"],
                           [[c["at"], c["method"], c["outcome"], c["by"], c["note"]]
                            for c in data["contacts"]])
    if data["donations"]:
        click.echo("\ndonations:")
        output.print_table(["at", "amount", "currency"],
                           [[d["at"], d["amount"], d["currency"]] for d in data["donations"]])


def _check_window(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    if value is not None:
        window_start(value, "--not-contacted-since")  # a bad window fails before any output
    return value


not_contacted_option = click.option(
    "--not-contacted-since", "not_contacted_since", metavar="WINDOW", callback=_check_window,
    help="Leave out people contacted in this window (e.g. 14d) by this node or any "
         "organization whose contacts reach it.")


@people.command("list")
@home_option
@click.option("--tag", help="Only people with this tag.")
@click.option("--search", help="Only people whose name, email or phone contains this text.")
@click.option("--limit", type=click.IntRange(min=1), help="At most N people.")
@not_contacted_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_(tag: str | None, search: str | None, limit: int | None,
          not_contacted_since: str | None, as_json: bool) -> None:
    """List people, oldest first."""
    rows = ops.list_people(open_current_node(), tag=tag, search=search, limit=limit,
                           not_contacted_since=not_contacted_since)
    if as_json:
        output.print_json(rows)
        return
    output.print_table(
        ["uuid", "name", "email", "phone", "tags"],
        [[r["uuid"], " ".join(filter(None, [r["first_name"], r["last_name"]])), r["email"],
          r["phone"], r["tags"]] for r in rows],
    )


@people.command("search")
@home_option
@click.argument("query")
@click.option("--limit", type=click.IntRange(min=1, max=1000), default=20, show_default=True,
              help="At most N people.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def search(query: str, limit: int, as_json: bool) -> None:
    """Full-text search of people by name, email, phone and city, best match first.

    Every word of QUERY must match the start of a word of the person ('mar lo' finds
    Maria Lopez; accents do not matter). A QUERY that is a phone number, in any format,
    finds that number. QUERY is never read as search syntax. Erased people are gone
    from the index at once.
    """
    rows = ops.search_people(open_current_node(), query, limit=limit)
    if as_json:
        output.print_json(rows)
        return
    output.print_table(
        ["uuid", "name", "email", "phone", "city", "tags"],
        [[r["uuid"], " ".join(filter(None, [r["first_name"], r["last_name"]])), r["email"],
          r["phone"], r["city"], r["tags"]] for r in rows],
    )


@people.command("import")
@home_option
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--tag", "tags", multiple=True, help="Tag every imported person (repeatable).")
@click.option("--strict", is_flag=True, help="Import nothing if any row is bad.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def import_(file: Path, tags: tuple[str, ...], strict: bool, as_json: bool) -> None:
    """Import people from a CSV file (our column names or NationBuilder's).

    A row matches an existing person by uuid, else by email: two different
    emails are two different people, always. A row without an email updates
    the one person who holds its phone unless their names differ (of several
    holders, only the one with exactly its name); otherwise it is added as a
    new person and listed in `tagshare match list`.
    Importing a file twice updates, never duplicates; an email repeated in
    the file is skipped, naming both lines. Empty cells never erase data.
    The summary counts rows added, updated, unchanged, skipped and ambiguous.

    A tag list is split on every comma; quotes only group and are dropped:
    `volunteer, "host, events"` gives volunteer, host and events.
    """
    node = open_current_node()
    size = file.stat().st_size if file.exists() else 0
    show_bar = sys.stderr.isatty() and not as_json
    with click.progressbar(length=size, label="importing", file=sys.stderr,
                           hidden=not show_bar) as bar:
        try:
            report = csvio.import_csv(node, file, tags=list(tags), strict=strict,
                                      progress=lambda pos: bar.update(pos - bar.pos))
        except csvio.ImportRejected as exc:
            _print_row_errors(exc.report)
            raise
    if as_json:
        output.print_json(report.to_dict())
        return
    _print_row_errors(report)
    _print_reviews(report)
    if report.ignored_columns:
        click.echo("ignored columns: " + ", ".join(report.ignored_columns), err=True)
    click.echo(f"added {report.added}, updated {report.updated}, "
               f"unchanged {report.unchanged}, skipped {report.skipped}, "
               f"ambiguous {report.ambiguous}")


def _print_row_errors(report: csvio.ImportReport, most: int = 20) -> None:
    for line, reason in report.errors[:most]:
        click.echo(f"line {line}: {reason}", err=True)
    if len(report.errors) > most:
        click.echo(f"... and {len(report.errors) - most} more bad rows", err=True)


def _print_reviews(report: csvio.ImportReport, most: int = 20) -> None:
    for line, person, _reason in report.reviews[:most]:
        click.echo(f"line {line}: ambiguous, added as {person} apart from the people "
                   "holding its phone: see `tagshare match list`", err=True)
    if len(report.reviews) > most:
        click.echo(f"... and {len(report.reviews) - most} more ambiguous rows", err=True)


@people.command("export")
@home_option
@click.argument("file")
@click.option("--tag", help="Only people with this tag.")
@not_contacted_option
@click.option("--raw", is_flag=True,
              help="Write every value verbatim, for programs (and `people import`), not "
                   "spreadsheets: cells starting with = + - @ are not neutralized.")
def export(file: str, tag: str | None, not_contacted_since: str | None, raw: bool) -> None:
    """Export people as CSV to FILE, or to standard output with '-'. Audited.

    FILE is created readable by its owner only (0600), whatever the umask; an existing
    FILE is replaced and is 0600 afterwards.

    The CSV is safe to open in a spreadsheet: every cell is quoted, and a cell that starts
    (after any spaces) with =, +, -, @, a tab, a carriage return, a line feed or NUL gets a
    leading ' so that Excel, LibreOffice or Google Sheets show it as text instead of
    running it as a formula (a name such as =HYPERLINK(...) received from a peer). Phone
    numbers in E.164 form (+ and digits, as the node stores them) are left as they are:
    digits alone run nothing. Use --raw for programs that read the file, including
    `people import` on another node.

    With --not-contacted-since, a walk list: nobody contacted in the window.
    """
    node = open_current_node()
    if file == "-":
        count = csvexport.export_csv(node, sys.stdout, tag=tag, target="-",
                                 not_contacted_since=not_contacted_since, raw=raw)
    else:
        count = csvexport.export_csv_file(node, Path(file), tag=tag,
                                      not_contacted_since=not_contacted_since, raw=raw)
        click.echo(f"exported {count} people to {file}", err=True)


@people.command("erase")
@home_option
@click.argument("person")
@yes_option
def erase(person: str, yes: bool) -> None:
    """Erase PERSON with their tags, contacts and donations; keeps an anonymous tombstone.

    Asks first on a terminal; elsewhere (a pipe, cron) it refuses unless given --yes.
    """
    confirm_destructive(yes, f"Erase {person} and everything about them?")
    uuid = ops.erase_person(open_current_node(), person)
    click.echo(f"erased {uuid}")
