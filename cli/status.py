"""`tagshare status`: one line on whether every share is in sync, then counts and shares,
fitted to 80 columns, peers named by alias, times relative to now."""

import textwrap
from datetime import UTC, datetime
from typing import Any

import click

from tagshare.cli import output
from tagshare.cli.context import home_option, open_current_node
from tagshare.node import people as people_ops
from tagshare.node.shares import ENDED

WIDTH = 80
# SHARE (the end of its id: `share show` takes it), PEER, DIR, TAG, STATE, LAST SYNC:
# 79 columns with the two-space gaps.
COLUMNS = (("share", 8), ("peer", 14), ("dir", 3), ("tag", 18), ("state", 16),
           ("last sync", 10))


@click.command()
@home_option
@click.option("--all", "show_ended", is_flag=True,
              help="Also show ended shares (revoked, left, declined).")
@click.option("--json", "as_json", is_flag=True,
              help="Print JSON (every share, ended ones too, each with its state).")
def status(show_ended: bool, as_json: bool) -> None:
    """Whether every share is in sync, counts of people, tags, contacts and donations,
    and each share's state."""
    data = people_ops.node_status(open_current_node())
    if as_json:
        output.print_json(data)
        return
    click.echo(lead_line(data["summary"], show_ended))
    click.echo()
    output.print_fields([(k, data[k]) for k in ("people", "tags", "contacts", "donations")])
    shown = [s for s in data["shares"] if show_ended or s["status"] not in ENDED]
    if shown:
        click.echo()
        _print_shares(shown, datetime.now(UTC))


def lead_line(summary: dict[str, int], show_ended: bool) -> str:
    """'all 3 shares in sync', or '1 of 3 shares in sync: 1 failing, 1 offered'."""
    total, in_sync = summary["shares"], summary["in_sync"]
    ended = summary["ended"]
    hidden = f" ({ended} ended, shown with --all)" if ended and not show_ended else ""
    if total == 0:
        return f"no shares{hidden}"
    if in_sync == total:
        return f"all {total} share{'s' if total != 1 else ''} in sync{hidden}"
    reasons = [f"{summary[key]} {text}" for key, text in (
        ("failing", "failing"), ("owing", "owing changes"), ("offered", "offered"),
        ("terms_offered", "with new terms offered")) if summary[key]]
    return f"{in_sync} of {total} shares in sync: {', '.join(reasons)}{hidden}"


def _print_shares(shares: list[dict[str, Any]], now: datetime) -> None:
    click.echo("  ".join(name.upper().ljust(width) for name, width in COLUMNS).rstrip())
    for s in shares:
        cells = [s["id"][-8:], s["peer_name"], "out" if s["direction"] == "outgoing" else "in",
                 s["local_tag"] or s["tag"], s["state"],
                 output.ago(s["sync"]["last_delivery_at"], now)]
        click.echo("  ".join(output.fit(cell, width).ljust(width)
                             for cell, (_, width) in zip(cells, COLUMNS, strict=True)).rstrip())
    for s in shares:
        error, retry = s["sync"]["last_error"], output.ago(s["sync"]["next_retry"], now)
        if error:
            line = f"{s['id'][-8:]} {s['peer_name']}: {error}"
            if retry:
                line += f" (next try {retry})"
            click.echo(textwrap.fill(line, WIDTH, subsequent_indent="    ",
                                     break_on_hyphens=False))
