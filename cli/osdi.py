"""`tagshare api-token ...` and `tagshare osdi ...`: the OSDI door (docs/osdi.md)."""

import click

from cli import output
from cli.context import home_option, open_current_node
from node.osdi import tokens


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
