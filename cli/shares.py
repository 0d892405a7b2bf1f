"""`tagshare share ...` and `tagshare sync`: granting tags to peers and keeping them in sync."""

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import click

from tagshare.cli import output
from tagshare.cli.confirm import confirm_destructive, yes_option
from tagshare.cli.context import home_option, open_current_node
from tagshare.node import reach
from tagshare.node import shares as ops
from tagshare.node.client import FederationClient
from tagshare.node.courier import Courier
from tagshare.node.peers import list_peers, resolve_peer
from tagshare.node.sync import RoundReport, SyncWorker


@click.group()
def share() -> None:
    """Tag shares: granted to peers (outgoing) and received from them (incoming)."""


def _print_share(data: dict[str, Any], as_json: bool) -> None:
    if as_json:
        output.print_json(data)
        return
    sync = data["sync"]
    output.print_fields([
        ("id", data["id"]), ("direction", data["direction"]),
        ("peer", f"{data['peer_name']} ({data['peer']})"), ("tag", data["tag"]),
        ("local tag", data["local_tag"]), ("fields", data["fields"]),
        ("on revoke", data["on_revoke"]), ("note", data["note"]), ("status", data["status"]),
        ("terms", f"v{data['terms_version']}"),
        ("pending terms", terms_text(data["pending_terms"])),
        ("pending", sync["pending"]), ("last delivery", sync["last_delivery_at"]),
        ("last error", sync["last_error"]), ("next retry", sync["next_retry"]),
    ])


def terms_text(terms: dict[str, Any] | None) -> str | None:
    """{'version': 2, 'fields': [...], 'on_revoke': 'keep'} -> 'v2: name, email; on revoke
    keep'."""
    if not terms:
        return None
    return f"v{terms['version']}: {', '.join(terms['fields'])}; on revoke {terms['on_revoke']}"


def _status_cell(row: dict[str, Any]) -> str:
    pending = row["pending_terms"]
    return f"{row['status']}, terms v{pending['version']} offered" if pending else row["status"]


@share.command("grant")
@home_option
@click.option("--tag", required=True, help="Share the people carrying this tag.")
@click.option("--to", "peer", required=True, help="The peer (alias, name or node id).")
@click.option("--fields", required=True,
              help="Comma-separated: name, email, phone, address, contacts, donations, or all.")
@click.option("--on-revoke", type=click.Choice(["purge", "keep"]), default="purge",
              show_default=True, help="What the subscriber does with the data when it ends.")
@click.option("--note", help="A note shown to the subscriber.")
@click.option("--reshare", type=click.Choice(["none", "narrower", "same"]), default="none",
              show_default=True,
              help="May the subscriber grant these people onward: none; narrower (one more "
                   "hop, at most these fields); same (onward again, at most these fields).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def grant(tag: str, peer: str, fields: str, on_revoke: str, note: str | None, reshare: str,
          as_json: bool) -> None:
    """Offer PEER the people tagged TAG; prints the share id. TAG may be a tag received
    from another node, if its origin allowed re-sharing."""
    data = ops.grant_share(open_current_node(), tag=tag, peer=peer, fields=fields,
                           on_revoke=on_revoke, note=note, reshare_terms=reshare)
    if data["carriers"] == 0:
        click.echo(f"warning: nobody carries the tag {data['tag']!r} yet: the grant stands, "
                   "and people tagged later are shared", err=True)
    if as_json:
        output.print_json(data)
    else:
        click.echo(data["id"])


@share.command("list")
@home_option
@click.option("--incoming", "direction", flag_value="incoming", help="Only received shares.")
@click.option("--outgoing", "direction", flag_value="outgoing", help="Only granted shares.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_(direction: str | None, as_json: bool) -> None:
    """List shares in both directions with their sync state."""
    rows = ops.list_shares(open_current_node(), direction)
    if as_json:
        output.print_json(rows)
        return
    output.print_table(
        ["id", "direction", "peer", "tag", "fields", "status", "pending", "last error"],
        [[r["id"], r["direction"], r["peer_name"], r["local_tag"] or r["tag"],
          ",".join(r["fields"]), _status_cell(r), r["sync"]["pending"],
          r["sync"]["last_error"]] for r in rows])


@share.command("reach")
@home_option
@click.argument("tag")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def reach_(tag: str, as_json: bool) -> None:
    """Who holds the people you share under TAG: your subscribers, and every node they
    re-shared them to (from the signed notices each re-sharing node sends), with counts
    and fields."""
    rows = reach.list_reach(open_current_node(), tag)
    if as_json:
        output.print_json(rows)
        return
    output.print_table(
        ["holder", "via", "share", "people", "fields", "reshare", "status", "as of"],
        [[r["holder_name"] or r["holder"][:12], " > ".join(v[:8] for v in r["via"]) or "-",
          r["share"], r["people"], ",".join(r["fields"]), r["reshare"], r["status"], r["at"]]
         for r in rows])


@share.command("show")
@home_option
@click.argument("share_id", metavar="ID")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def show(share_id: str, as_json: bool) -> None:
    """Show one share (ID, or a unique start or end of it, as `status` shows), with every
    version of its terms."""
    data = ops.show_share(open_current_node(), share_id)
    _print_share(data, as_json)
    if not as_json:
        if data["pending_terms"] and data["direction"] == "incoming":
            click.echo(f"\nnew terms offered: `tagshare share accept {data['id']}` takes them")
        click.echo("\nterms:")
        output.print_table(["version", "fields", "on revoke", "proposed", "accepted"],
                           [[t["version"], t["fields"], t["on_revoke"], t["proposed_at"],
                             t["accepted_at"]] for t in data["terms"]])


@share.command("accept")
@home_option
@click.argument("share_id", metavar="ID")
@click.option("--as-tag", help="Local tag for received people: a new tag, or one nobody carries "
              "and no other share writes (default PEERSLUG:TAG, or PEERSLUG:TAG-2, ... "
              "if that tag exists).")
def accept(share_id: str, as_tag: str | None) -> None:
    """Accept an offered share (its people start arriving), or its proposed new terms."""
    data = ops.accept_share(open_current_node(), share_id, as_tag)
    click.echo(f"accepted {data['id']} (terms v{data['terms_version']}): "
               f"people arrive tagged {data['local_tag']!r}")


@share.command("decline")
@home_option
@click.argument("share_id", metavar="ID")
def decline(share_id: str) -> None:
    """Decline an offered share."""
    data = ops.decline_share(open_current_node(), share_id)
    click.echo(f"declined {data['id']}")


@share.command("revoke")
@home_option
@click.argument("share_id", metavar="ID")
def revoke(share_id: str) -> None:
    """Stop a share you granted, at once; the subscriber is told."""
    data = ops.revoke_share(open_current_node(), share_id)
    click.echo(f"revoked {data['id']}: nothing more will be sent")


@share.command("leave")
@home_option
@click.argument("share_id", metavar="ID")
@yes_option
def leave(share_id: str, yes: bool) -> None:
    """Stop receiving a share; the granter is told. If its terms say purge, the people
    that came only through it are removed from this node.

    Asks first on a terminal; elsewhere (a pipe, cron) it refuses unless given --yes.
    """
    confirm_destructive(yes, f"Leave share {share_id}? If its terms say purge, its people "
                             "are removed from this node.")
    data = ops.leave_share(open_current_node(), share_id)
    click.echo(f"left {data['id']}")


@share.command("resync")
@home_option
@click.argument("share_id", metavar="ID")
def resync(share_id: str) -> None:
    """Ask the granter to send the whole share again."""
    data = ops.resync_share(open_current_node(), share_id)
    click.echo(f"asked {data['peer_name']} to resend {data['id']}")


@click.command()
@home_option
@click.option("--peer", "peer_ref", help="Only this peer.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def sync(peer_ref: str | None, as_json: bool) -> None:
    """Deliver everything pending (and, on a node nobody can reach, pull) once; for cron."""
    node = open_current_node()
    only = resolve_peer(node.conn, peer_ref) if peer_ref else None

    async def run() -> RoundReport:
        client = FederationClient()
        with ThreadPoolExecutor(max_workers=1) as executor:
            worker = SyncWorker(node, Courier(node, client), executor=executor,
                                pull=not node.config.reachable)
            try:
                return await worker.run_once(only)
            finally:
                await client.close()

    report = asyncio.run(run())
    if as_json:
        output.print_json({"delivered": report.delivered, "pulled": report.pulled,
                           "errors": report.errors})
    else:
        names = {p["node_id"]: p["alias"] or p["name"]
                 for p in list_peers(node, include_removed=True)}
        for peer_id, count in report.delivered.items():
            click.echo(f"{names.get(peer_id, peer_id[:12])}: delivered {count}")
        for peer_id, count in report.pulled.items():
            click.echo(f"{names.get(peer_id, peer_id[:12])}: pulled {count}")
        for peer_id, error in report.errors.items():
            click.echo(f"{names.get(peer_id, peer_id[:12])}: {error}", err=True)
    if report.errors:
        raise SystemExit(1)


@share.command("edit")
@home_option
@click.argument("share_id", metavar="ID")
@click.option("--fields", help="New fields: name, email, phone, address, contacts, donations, "
              "or all.")
@click.option("--on-revoke", type=click.Choice(["purge", "keep"]),
              help="New term for when the share ends.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def edit(share_id: str, fields: str | None, on_revoke: str | None, as_json: bool) -> None:
    """Propose new terms for a share you granted; the old terms flow until accepted."""
    data = ops.edit_share(open_current_node(), share_id, fields=fields, on_revoke=on_revoke)
    if as_json:
        output.print_json(data)
    else:
        pending = data["pending_terms"]
        click.echo(f"proposed terms v{pending['version']} for {data['id']}: "
                   f"{','.join(pending['fields'])}, on revoke {pending['on_revoke']}")
