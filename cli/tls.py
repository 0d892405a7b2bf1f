"""`tagshare tls ...`: the node's own HTTPS certificate."""

import datetime

import click

from tagshare.cli import output
from tagshare.cli.context import home_option, open_current_node
from tagshare.node.tls import renew_self_signed


@click.group()
def tls() -> None:
    """The TLS certificate the node serves HTTPS with (pinned by peers, no CA)."""


@tls.command("self-signed")
@home_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def self_signed(as_json: bool) -> None:
    """Make a new key and self-signed certificate as tls.key and tls.crt in the home.

    Run it again to rotate them; restart serve, and peers learn the new
    fingerprint from the signed node document.
    """
    node = open_current_node()
    made = renew_self_signed(node, datetime.datetime.now(datetime.UTC))
    if as_json:
        output.print_json(made)
        return
    output.print_fields([("certificate", made["cert"]), ("key", made["key"]),
                         ("sha256", made["sha256"])])
    if not made["url"].startswith("https://"):
        click.echo(f"warning: the node's URL {made['url']} is not https://, so serve will "
                   "not use this certificate; set an https:// URL first", err=True)
