"""`tagshare demo`: a state party and three campaigns on 127.0.0.1, sharing live.

How it runs: each node is created here, with a free port picked first so its
URL is right before anyone pairs, loaded with generated people, then served
by `tagshare serve` in a subprocess of its own. The demo then plays the four
operators: it writes through its own connection to each node's database, as
the CLI would, and the serving process notices the commit (PRAGMA
data_version) and syncs over HTTP. Every effect is observed by polling the
receiving node's database, so each time printed runs from the commit on the
source to the change being visible on the target.

The scenario is data: CAMPAIGNS says who gets what and how, and CHANGES is
the list of live changes; later steps (share edit, contacts attaching to the
origin person, overlap reports) are added there.
"""

import asyncio
import atexit
import contextlib
import dataclasses
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from tagshare.node import demo_data, pairing, peers, shares
from tagshare.node import people as people_ops
from tagshare.node.client import FederationClient
from tagshare.node.clock import system_clock
from tagshare.node.demo_changes import CHANGES, run_change
from tagshare.node.demo_data import KNOCKED, VOLUNTEERS, PeopleMaker
from tagshare.node.demo_model import (
    CAMPAIGNS,
    HOST,
    PARTY,
    POLL_SECONDS,
    PORT_ATTEMPTS,
    SERVE_CODE,
    START_TIMEOUT,
    STOP_GRACE_SECONDS,
    SYNC_TIMEOUT,
    CampaignPlan,
    Demo,
    DemoNode,
    DemoResult,
    Say,
    incoming_share,
    ms,
)
from tagshare.node.errors import NodeError
from tagshare.node.node import init_node


def run_demo(*, people: int, seed: int, keep: bool, say: Say) -> DemoResult:
    """Run the whole demo; stop every node and remove the folder unless `keep`."""
    started = time.monotonic()
    demo = Demo(root=Path(tempfile.mkdtemp(prefix="tagshare-demo-")),
                people=PeopleMaker.seeded(seed), say=say)
    atexit.register(shut_down, demo)
    kept = False
    try:
        with _sigterm_as_exit():
            say(f"demo: folder {demo.root} (seed {seed})")
            create_nodes(demo, people)
            start_servers(demo)
            pair_all(demo)
            share_all(demo)
            say("")
            say("Live changes (commit on the source -> visible on each target):")
            for change in CHANGES:
                run_change(demo, change)
            summary = settled_summary(demo)
            kept = keep
            return DemoResult(root=demo.root, kept=kept, seconds=time.monotonic() - started,
                              nodes=[node_info(n) for n in demo.nodes], summary=summary)
    except NodeError:
        report_failure(demo)
        raise
    finally:
        close_connections(demo)
        if not kept:
            shut_down(demo)
        atexit.unregister(shut_down)


@contextlib.contextmanager
def _sigterm_as_exit() -> Iterator[None]:
    """SIGTERM or SIGHUP to the demo unwinds like Ctrl-C, so the nodes are stopped too."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def exit_now(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    previous = {sig: signal.signal(sig, exit_now) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


# -- nodes and their processes ------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def create_nodes(demo: Demo, people: int) -> None:
    plans: list[CampaignPlan | None] = [None, *CAMPAIGNS]
    for plan in plans:
        name, short = (plan.name, plan.short) if plan else (PARTY, "Party")
        port = free_port()
        home = demo.root / short.lower()
        node = init_node(home, name=name, url=f"http://{HOST}:{port}")
        demo.nodes.append(DemoNode(name=name, short=short, home=home, port=port, node=node,
                                   plan=plan))
    volunteers = demo_data.load_party(demo.party.node, demo.people, people)
    demo.say(f"{PARTY}: {people} people, {volunteers} tagged {VOLUNTEERS}")
    for campaign in demo.campaigns:
        count = max(people // 5, 4)
        knocks = bool(campaign.plan and campaign.plan.shares_back)
        knocked = demo_data.load_campaign(campaign.node, demo.people, count, knocks=knocks,
                                          by=f"{campaign.short} canvasser")
        extra = f", {knocked} tagged {KNOCKED} with a door contact" if knocked else ""
        demo.say(f"{campaign.name}: {count} people of its own{extra}")


def start_servers(demo: Demo) -> None:
    for demo_node in demo.nodes:
        spawn_server(demo_node)
    for demo_node in demo.nodes:
        for _attempt in range(PORT_ATTEMPTS):
            if wait_listening(demo_node):
                break
            move_to_free_port(demo_node)  # someone took the port between our pick and bind
            spawn_server(demo_node)
        else:
            raise NodeError(f"{demo_node.name} found no free port: {last_log_line(demo_node)}")
        demo.say(f"started {demo_node.name} on {demo_node.url} "
                 f"(pid {demo_node.process.pid if demo_node.process else '?'})")


def spawn_server(demo_node: DemoNode) -> None:
    with demo_node.log.open("wb") as log:
        demo_node.process = subprocess.Popen(
            [sys.executable, "-c", SERVE_CODE, "--home", str(demo_node.home), "serve",
             "--host", HOST, "--port", str(demo_node.port), "--admin-port", "0"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log,
            start_new_session=True)


def wait_listening(demo_node: DemoNode) -> bool:
    """True once the node listens; False if its port was taken; NodeError otherwise."""
    deadline = time.monotonic() + START_TIMEOUT
    while f"listening on {demo_node.url}" not in demo_node.log.read_text(errors="replace"):
        process = demo_node.process
        if process is not None and process.poll() is not None and "already in use" in (
                last_log_line(demo_node)):
            return False
        if process is None or process.poll() is not None or time.monotonic() > deadline:
            raise NodeError(f"{demo_node.name} did not start: {last_log_line(demo_node)}")
        time.sleep(0.02)
    return True


def last_log_line(demo_node: DemoNode) -> str:
    lines = demo_node.log.read_text(errors="replace").strip().splitlines()
    return lines[-1] if lines else "no output"


def move_to_free_port(demo_node: DemoNode) -> None:
    """Nobody has paired yet, so the node's URL can still change."""
    demo_node.port = free_port()
    demo_node.node.config = dataclasses.replace(demo_node.node.config, url=demo_node.url)
    demo_node.node.config.save(demo_node.home)


def stop_processes(nodes: list[DemoNode]) -> None:
    """SIGTERM every node, wait, then SIGKILL any still running after the grace period."""
    running = [n.process for n in nodes if n.process is not None and n.process.poll() is None]
    for process in running:
        with contextlib.suppress(ProcessLookupError):
            process.terminate()
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for process in running:
        try:
            process.wait(timeout=max(deadline - time.monotonic(), 0.01))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def close_connections(demo: Demo) -> None:
    for demo_node in demo.nodes:
        with contextlib.suppress(Exception):
            demo_node.node.close()


def shut_down(demo: Demo) -> None:
    stop_processes(demo.nodes)
    close_connections(demo)
    shutil.rmtree(demo.root, ignore_errors=True)


def report_failure(demo: Demo) -> None:
    """What each node was doing when the demo gave up, before its folder goes away."""
    for demo_node in demo.nodes:
        with contextlib.suppress(Exception):
            demo.say(f"-- {demo_node.name}: {people_ops.node_status(demo_node.node)}")
            for line in demo_node.log.read_text(errors="replace").splitlines()[-5:]:
                demo.say(f"   {line}")


def node_info(demo_node: DemoNode) -> dict[str, Any]:
    return {"name": demo_node.name, "home": str(demo_node.home), "url": demo_node.url,
            "pid": demo_node.process.pid if demo_node.process else None,
            "log": str(demo_node.log)}


# -- pairing and shares -------------------------------------------------------------------


def pair_all(demo: Demo) -> None:
    asyncio.run(_pair_all(demo))


async def _pair_all(demo: Demo) -> None:
    client = FederationClient()
    try:
        for campaign in demo.campaigns:
            token = pairing.create_invite(demo.party.node, timedelta(minutes=10), system_clock())
            start = time.monotonic()
            await pairing.join(campaign.node, token.encode(), alias=None, auto_accept=False,
                               client=client, now=system_clock())
            demo.say(f"paired {campaign.name} with {PARTY} by invite "
                     f"({ms(time.monotonic() - start)})")
            if campaign.plan and campaign.plan.trusts_party:
                peers.trust_peer(campaign.node, demo.party.node.node_id)
                demo.say(f"{campaign.name} trusts {PARTY}: its offers are accepted on arrival")
    finally:
        await client.close()


@dataclass
class Flow:
    """One share's initial sync: who grants what to whom, and how many people it carries."""

    granter: DemoNode
    subscriber: DemoNode
    tag: str
    fields: str
    people: int
    granted_at: float = 0.0

    def held(self) -> int:
        share = incoming_share(self.subscriber, self.granter, self.tag)
        if share is None or share["status"] != "active":
            return 0
        counts = {t["name"]: t["people"] for t in people_ops.list_tags(self.subscriber.node)}
        return int(counts.get(share["local_tag"], 0))


def share_all(demo: Demo) -> None:
    """The party grants volunteers to each campaign; one campaign shares its field contacts
    on those volunteers back, so its door knocks reach the party's own people."""
    volunteers = len(people_ops.list_people(demo.party.node, tag=VOLUNTEERS))
    grant_flows(demo, [Flow(demo.party, c, VOLUNTEERS, c.plan.fields if c.plan else "all",
                            volunteers) for c in demo.campaigns])
    back = []
    for campaign in demo.campaigns:
        share = incoming_share(campaign, demo.party, VOLUNTEERS)
        if campaign.plan and campaign.plan.shares_back and share is not None:
            back.append(Flow(campaign, demo.party, share["local_tag"], "contacts", volunteers))
    grant_flows(demo, back)


def grant_flows(demo: Demo, flows: list[Flow]) -> None:
    for flow in flows:
        shares.grant_share(flow.granter.node, tag=flow.tag, peer=flow.subscriber.node.node_id,
                           fields=flow.fields, on_revoke="purge", note=None)
        flow.granted_at = time.monotonic()
        demo.say(f"{flow.granter.name} grants {flow.tag!r} to {flow.subscriber.name} "
                 f"(fields {flow.fields})")
    wait_for_flows(demo, flows)


def wait_for_flows(demo: Demo, flows: list[Flow]) -> None:
    """Accept offers as they arrive (as an operator would), until every flow is complete."""
    waiting = list(flows)
    deadline = time.monotonic() + SYNC_TIMEOUT
    while waiting:
        for flow in list(waiting):
            share = incoming_share(flow.subscriber, flow.granter, flow.tag)
            if share is not None and share["status"] == "offered":
                shares.accept_share(flow.subscriber.node, share["id"], None)
                demo.say(f"{flow.subscriber.name} accepts {flow.tag!r} "
                         f"as {_local_tag(flow)!r}")
            elif share is not None and flow.held() >= flow.people:
                waiting.remove(flow)
                how = " (auto-accepted)" if _trusted(flow) and flow.tag == VOLUNTEERS else ""
                note = flow.subscriber.fields_note if flow.tag == VOLUNTEERS else ""
                demo.say(f"initial sync: {flow.subscriber.name} holds all {flow.people} "
                         f"{flow.tag}{note} {ms(time.monotonic() - flow.granted_at)} "
                         f"after the grant{how}")
        if time.monotonic() > deadline:
            raise NodeError(f"initial sync did not finish in {SYNC_TIMEOUT:.0f} s: see the logs "
                            f"in {demo.root}")
        time.sleep(POLL_SECONDS)


def _local_tag(flow: Flow) -> str:
    share = incoming_share(flow.subscriber, flow.granter, flow.tag)
    return str(share["local_tag"]) if share else "?"


def _trusted(flow: Flow) -> bool:
    return bool(flow.subscriber.plan and flow.subscriber.plan.trusts_party)


# -- summary ------------------------------------------------------------------------------


def settled_summary(demo: Demo) -> list[dict[str, Any]]:
    """The summary once every node has delivered what it owes (a change is visible on a
    target before its batch is acknowledged), or as it stands after SYNC_TIMEOUT."""
    deadline = time.monotonic() + SYNC_TIMEOUT
    summary = node_summary(demo)
    while (any(row["status"] != "in sync" for row in summary)
           and time.monotonic() < deadline):
        time.sleep(POLL_SECONDS)
        summary = node_summary(demo)
    return summary


def node_summary(demo: Demo) -> list[dict[str, Any]]:
    rows = []
    for demo_node in demo.nodes:
        status = people_ops.node_status(demo_node.node)
        active = [s for s in status["shares"] if s["status"] == "active"]
        rows.append({
            "node": demo_node.name, "url": demo_node.url, "people": status["people"],
            "shares_in": sum(s["direction"] == "incoming" for s in active),
            "shares_out": sum(s["direction"] == "outgoing" for s in active),
            "status": share_health(status["shares"]),
        })
    return rows


def share_health(node_shares: list[dict[str, Any]]) -> str:
    errors = [s["sync"]["last_error"] for s in node_shares if s["sync"]["last_error"]]
    if errors:
        return f"error: {errors[0]}"
    pending = sum(s["sync"]["pending"] or 0 for s in node_shares
                  if s["direction"] == "outgoing")
    return f"{pending} pending" if pending else "in sync"


