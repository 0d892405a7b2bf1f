"""`tagshare serve`, `invite` and `peer ...`: running a node and pairing with others."""

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click

from tagshare.cli import output
from tagshare.cli.confirm import confirm_destructive, yes_option
from tagshare.cli.context import home_option, open_current_node
from tagshare.node import pairing
from tagshare.node import peers as ops
from tagshare.node.admin.listener import DEFAULT_ADMIN_HOST, AdminAddress
from tagshare.node.client import FederationClient
from tagshare.node.clock import system_clock
from tagshare.node.errors import NodeError
from tagshare.node.farewell import remove_and_tell
from tagshare.node.normalize import parse_duration
from tagshare.node.oplog import LOG_FORMATS, LOG_LEVELS, configure_logging
from tagshare.node.osdi import sources as osdi_sources
from tagshare.node.service import serve as run_server
from tagshare.node.tls import TlsFiles, served_tls

serve_log = logging.getLogger("tagshare.serve")


@click.command()
@home_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=7440, show_default=True, type=click.IntRange(0, 65535),
              help="Port to listen on (0 picks a free one).")
@click.option("--no-listen", is_flag=True,
              help="Open no port: push to peers and pull from granters (behind NAT).")
@click.option("--admin-host", default=DEFAULT_ADMIN_HOST, show_default=True,
              help="Address of the admin listener (metrics); warns unless loopback.")
@click.option("--admin-port", type=click.IntRange(0, 65535),
              help="Port of the admin listener (default: --port + 1; 0 picks a free one).")
@click.option("--log-format", type=click.Choice(LOG_FORMATS), default="text",
              show_default=True, help="Log lines for a human (text) or one JSON object each.")
@click.option("--log-level", type=click.Choice(LOG_LEVELS, case_sensitive=False),
              default="info", show_default=True,
              help="Least important level logged to standard error (debug adds access lines).")
@click.option("--tls-cert", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="Serve HTTPS with this PEM certificate (default: the home's tls.crt "
                   "when the node's URL is https://).")
@click.option("--tls-key", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="The private key of --tls-cert (PEM).")
@click.option("--osdi-pull-every", "osdi_pull_every",
              help="Also pull every source of `tagshare osdi add` this often (e.g. 5m).")
def serve(host: str, port: int, no_listen: bool, admin_host: str, admin_port: int | None,
          log_format: str, log_level: str, tls_cert: Path | None,
          tls_key: Path | None, osdi_pull_every: str | None) -> None:
    """Run the node's federation server and sync worker until Ctrl-C or SIGTERM."""
    if (tls_cert is None) != (tls_key is None):
        raise click.UsageError("give --tls-cert and --tls-key together")
    pull_every = osdi_sources.pull_interval(osdi_pull_every) if osdi_pull_every else None
    configure_logging(log_format, log_level)
    try:
        _serve(host, port, no_listen, AdminAddress(admin_host, admin_port), tls_cert, tls_key,
               pull_every)
    except NodeError as exc:
        if log_format != "json":
            raise
        serve_log.error("%s", exc)  # with json, even the last word is a JSON line
        raise SystemExit(1) from None


def _serve(host: str, port: int, no_listen: bool, admin: AdminAddress,
           tls_cert: Path | None, tls_key: Path | None, pull_every: timedelta | None) -> None:
    node = open_current_node()
    node.keys  # noqa: B018 - unlock sealed keys now, with a clear error, not mid-request
    tls = (TlsFiles(tls_cert, tls_key) if tls_cert and tls_key else
           served_tls(node.home, node.config.url))

    def ready(url: str | None) -> None:
        if url is None:
            serve_log.info("tagshare node %r is running without a port (--no-listen): it "
                           "pushes to peers and pulls from granters", node.config.name,
                           extra={"url": None})
            return
        serve_log.info("tagshare node %r listening on %s", node.config.name, url,
                       extra={"url": url})

    asyncio.run(osdi_sources.alongside(
        run_server(node, host, port, listen=not no_listen, on_ready=ready, admin=admin,
                   tls=tls), node.home, pull_every))


@click.group(invoke_without_command=True)
@home_option
@click.option("--expires", default="24h", show_default=True,
              help="How long the invite stays valid (e.g. 30m, 24h, 7d).")
@click.option("--name", "alias",
              help="The alias the node that pairs with this invite gets here (e.g. rivera).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def invite(ctx: click.Context, expires: str, alias: str | None, as_json: bool) -> None:
    """Print a one-time invite token for another node to pair with this one."""
    if ctx.invoked_subcommand is not None:
        return
    node = open_current_node()
    token = pairing.create_invite(node, parse_duration(expires), system_clock(), alias)
    if pairing.loopback_url(token.url):
        click.echo(f"warning: this node's URL is {token.url}, a loopback address: no other\n"
                   "machine can pair with this invite. Pair the other way (the node nobody\n"
                   "can reach runs `tagshare peer add` with the other's invite), or give\n"
                   "this node the URL peers reach it at.", err=True)
    if as_json:
        output.print_json({"token": token.encode(), "expires": token.expires,
                           "url": token.url, "node_id": token.node_id,
                           "fingerprint": node.fingerprint, "alias": alias})
        return
    click.echo(token.encode())
    called = f"; the node that pairs is called {alias.strip()!r} here" if alias else ""
    click.echo(f"(one use; expires in {expires}{called}; this node's fingerprint: "
               f"{node.fingerprint})", err=True)


@invite.command("list")
@home_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def invite_list(as_json: bool) -> None:
    """List invites with their state and wrong secrets, and recent failed pairing
    attempts by source address."""
    data = pairing.list_invites(open_current_node(), system_clock())
    if as_json:
        output.print_json(data)
        return
    output.print_table(["invite id", "created", "expires", "state", "failed attempts"],
                       [[i["invite_id"], i["created_at"], _utc(i["expires"]), i["state"],
                         i["failed_attempts"]] for i in data["invites"]])
    for source in data["recent_failures"]:
        click.echo(f"{source['failures']} failed pairing attempt(s) from {source['source']!r} "
                   f"({source['node_keys']} node key(s)) in the last "
                   f"{pairing.FAILURE_WINDOW_SECONDS // 60} minutes", err=True)


def _utc(seconds: object) -> str:
    moment = datetime.fromtimestamp(int(str(seconds)), UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@click.group()
def peer() -> None:
    """Nodes this node is paired with."""


@peer.command("add")
@home_option
@click.argument("token")
@click.option("--name", "alias", help="A local alias for the peer.")
@click.option("--auto-accept", is_flag=True, help="Activate this peer's share offers at once.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def peer_add(token: str, alias: str | None, auto_accept: bool, as_json: bool) -> None:
    """Pair with the node that printed TOKEN (it must be running `tagshare serve`)."""
    node = open_current_node()

    async def run() -> dict[str, object]:
        client = FederationClient()
        try:
            return await pairing.join(node, token, alias=alias, auto_accept=auto_accept,
                                      client=client, now=system_clock())
        finally:
            await client.close()

    peer_info = asyncio.run(run())
    if as_json:
        output.print_json(peer_info)
        return
    if peer_info["paired_again"]:
        click.echo(f"paired again with {peer_info['name']!r}, already a peer")
        if peer_info["alias_kept"]:
            ignored = (f" (--name {alias!r} not applied)"
                       if alias and alias.strip() != peer_info["alias"] else "")
            click.echo(f"it keeps its alias {peer_info['alias']!r}{ignored}: "
                       "`tagshare peer rename` changes it", err=True)
    else:
        click.echo(f"paired with {peer_info['name']!r}")
    click.echo(f"fingerprint: {peer_info['fingerprint']}")
    click.echo("Compare the fingerprint with the other operator, by voice.", err=True)


@peer.command("list")
@home_option
@click.option("--all", "include_removed", is_flag=True, help="Include removed peers.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def peer_list(include_removed: bool, as_json: bool) -> None:
    """List peers."""
    rows = ops.list_peers(open_current_node(), include_removed=include_removed)
    if as_json:
        output.print_json(rows)
        return
    output.print_table(["name", "alias", "announces", "node id", "url", "status"],
                       [[r["name"], r["alias"],
                         r["announces"] if r["announces"] != r["name"] else None,
                         r["node_id"][:12] + "…", r["url"], r["status"]] for r in rows])


@peer.command("show")
@home_option
@click.argument("peer_ref", metavar="PEER")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def peer_show(peer_ref: str, as_json: bool) -> None:
    """Show PEER (alias, name, node id or a unique prefix) with its fingerprint."""
    data = ops.show_peer(open_current_node(), peer_ref)
    if as_json:
        output.print_json(data)
        return
    output.print_fields([(k, data[k]) for k in ("name", "alias", "announces", "node_id",
                                                "fingerprint", "url", "status", "auto_accept",
                                                "added_at")])


@peer.command("rename")
@home_option
@click.argument("peer_ref", metavar="PEER")
@click.argument("alias")
def peer_rename(peer_ref: str, alias: str) -> None:
    """Call PEER by ALIAS on this node (what a peer announces never renames it)."""
    data, was = ops.rename_peer(open_current_node(), peer_ref, alias)
    click.echo(f"peer {was!r} ({data['node_id'][:12]}…) is now called {data['alias']!r}")


@peer.command("retry")
@home_option
@click.argument("peer_ref", metavar="PEER")
def peer_retry(peer_ref: str) -> None:
    """End PEER's delivery backoff: a running `serve` tries it at once."""
    data = ops.retry_peer(open_current_node(), peer_ref)
    click.echo(f"retrying {data['alias'] or data['name']!r} now (if `tagshare serve` runs)")


@peer.command("remove")
@home_option
@click.argument("peer_ref", metavar="PEER")
@yes_option
def peer_remove(peer_ref: str, yes: bool) -> None:
    """Remove PEER: its messages are refused from now on.

    Asks first on a terminal; elsewhere (a pipe, cron) it refuses unless given --yes.
    """
    node = open_current_node()
    ops.resolve_peer(node.conn, peer_ref)  # an unknown PEER fails before anything is asked
    confirm_destructive(yes, f"Remove peer {peer_ref}? It is told; its messages will be "
                             "refused and pairing again needs a new invite.")

    async def run() -> tuple[dict[str, object], str | None]:
        client = FederationClient()
        try:
            return await remove_and_tell(node, peer_ref, client)
        finally:
            await client.close()

    data, why_not = asyncio.run(run())
    click.echo(f"removed peer {data['alias'] or data['name']!r} ({data['node_id']})")
    if why_not is None:
        click.echo("the peer was told, and shows this node as removed")
    else:
        click.echo(f"warning: the peer was not told ({why_not}); it may keep trying "
                   "until its operator removes this node", err=True)


@peer.command("trust")
@home_option
@click.argument("peer_ref", metavar="PEER")
@click.option("--undo", is_flag=True, help="Stop auto-accepting this peer's offers.")
def peer_trust(peer_ref: str, undo: bool) -> None:
    """Auto-accept PEER's share offers from now on."""
    data = ops.trust_peer(open_current_node(), peer_ref, trusted=not undo)
    state = "auto-accepted" if data["auto_accept"] else "held for manual accept"
    click.echo(f"offers from {data['name']!r} are now {state}")
