"""`tagshare api-token ...` and `tagshare osdi ...`: the OSDI door (docs/osdi.md)."""

import asyncio
import sys
from contextlib import ExitStack
from typing import Any

import click

from tagshare.cli import output
from tagshare.cli.context import home_option, open_current_node
from tagshare.node.osdi import sources, tokens


@click.group("api-token")
def api_token() -> None:
    """Tokens for the OSDI API (Parsons, signup forms, scripts)."""


@api_token.command("create")
@home_option
@click.argument("name")
@click.option("--scope", type=click.Choice(tokens.SCOPES), default="read", show_default=True,
              help="read: GET only; write: may also add and change people, tags, taggings.")
@click.option("--expires", help="Valid for this long (e.g. 90d, 24h); default: until revoked.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def api_token_create(name: str, scope: str, expires: str | None, as_json: bool) -> None:
    """Create API token NAME and print it, once: only its hash is kept."""
    created = tokens.create_token(open_current_node(), name, scope=scope, expires=expires)
    if as_json:
        output.print_json(created)
        return
    click.echo(created["token"])
    click.echo(f"(API token {name!r}, scope {scope}: shown once, store it now; send it in "
               "the OSDI-API-Token header)", err=True)


@api_token.command("list")
@home_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def api_token_list(as_json: bool) -> None:
    """API tokens: name, scope, created, expires, status (never the token)."""
    found = tokens.list_tokens(open_current_node())
    if as_json:
        output.print_json(found)
        return
    output.print_table(["name", "scope", "status", "created", "expires"],
                       [[t["name"], t["scope"], t["status"], t["created_at"], t["expires_at"]]
                        for t in found])


@api_token.command("revoke")
@home_option
@click.argument("name")
def api_token_revoke(name: str) -> None:
    """Revoke API token NAME: it stops working at once."""
    tokens.revoke_token(open_current_node(), name)
    click.echo(f"API token {name!r} revoked")


@click.group()
def osdi() -> None:
    """Pull people from an OSDI server, such as Action Network or another node."""


@osdi.command("pull")
@home_option
@click.argument("url")
@click.option("--token-file", required=True, type=click.Path(dir_okay=False),
              help="File holding the server's API token (sent as OSDI-API-Token).")
@click.option("--tag", "tags", multiple=True,
              help="Copy only people with this tag, and only this tag's taggings (repeatable).")
@click.option("--since", help="Only people modified after this time (ISO 8601); default: "
              "since the last pull from URL, or everyone.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def osdi_pull(url: str, token_file: str, tags: tuple[str, ...], since: str | None,
              as_json: bool) -> None:
    """Copy people and their taggings from the OSDI server at URL (its API entry point,
    e.g. https://actionnetwork.org/api/v2); a rerun copies only what changed."""
    node = open_current_node()
    with ExitStack() as stack:
        bars: list[Any] = []  # click's ProgressBar, made at the first page

        def progress(done: int, total: int | None) -> None:
            if not bars:  # the length is known once the first page came
                bars.append(stack.enter_context(click.progressbar(
                    length=max(total or done, 1), label="pulling people", file=sys.stderr,
                    hidden=as_json or not sys.stderr.isatty())))
            bars[0].update(done - bars[0].pos)

        report = asyncio.run(sources.pull_url(node, url, token_file, tags=list(tags),
                                              since=since, progress=progress))
    if as_json:
        output.print_json(report.to_dict())
        return
    for reason in report.skipped[:20]:
        click.echo(f"skipped {reason}", err=True)
    click.echo(report.summary())


@osdi.command("add")
@home_option
@click.argument("name")
@click.argument("url")
@click.option("--token-file", required=True, type=click.Path(dir_okay=False),
              help="File holding the server's API token; read at each pull.")
def osdi_add(name: str, url: str, token_file: str) -> None:
    """Register OSDI source NAME at URL, for `serve --osdi-pull-every`."""
    added = sources.add_source(open_current_node(), name, url, token_file)
    click.echo(f"OSDI source {added['name']!r} at {added['url']} registered")


@osdi.command("list")
@home_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def osdi_list(as_json: bool) -> None:
    """OSDI sources pulled from: name, URL, cursor, last pull."""
    found = sources.list_sources(open_current_node())
    if as_json:
        output.print_json(found)
        return
    output.print_table(["name", "url", "cursor", "last pull"],
                       [[s["name"], s["url"], s["cursor"], s["last_pull_at"]] for s in found])
