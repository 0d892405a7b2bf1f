"""Benchmark: the statewide picture, a state party, its counties and their campaigns.

    python benchmarks/bench_statewide.py --nodes 30
    python benchmarks/bench_statewide.py --nodes 300 --per-process 25
    python benchmarks/bench_statewide.py --nodes 6 --people 2000 --volunteers 600 \\
        --changes 200 --edits 5 --idle-seconds 5                        # CI: proves it works

Every node is a real node: its own home, SQLite database, keys, aiohttp listener
on 127.0.0.1 and sync worker (`node.server.create_app`, what `tagshare serve`
runs). To fit hundreds on one machine, `--per-process` nodes share one Python
process (`--serve-group`): one event loop, but each node keeps its own Node,
database connection and threads, listener, sync worker and HTTP client; they
talk to each other only over HTTP, like nodes in separate processes. The party
runs alone in its own process, so its CPU time is its own.

Topology for N nodes: 1 party, N // 6 counties, the rest campaigns (300: 50
counties, 249 campaigns), campaign i belonging to county i % counties. The party
holds `--people` people and shares `volunteers` (`--volunteers` of them; name,
email, phone, contacts) with every county. Each campaign receives its county's
slice of the volunteers, plus the same 20 "leaders" every campaign gets (so one
edit can be watched reaching every node). By default (`--route reshare`) the
party grants `volunteers` to each county with `--reshare narrower`, and each
county tags each of its campaigns' slices among what it received and re-shares
it, so the party's changes cascade through the county (`reshare_campaign_slice`);
`--route direct` has the party grant each slice itself, as the figures before
re-sharing were measured. Door knocks go straight back to the party (each
campaign pairs with the party and with its county). Pairing and granting run in this
process through node/ functions (node/pairing.py, node/shares.py), not CLI
processes: the CLI costs about 5 s per node on this machine.

Measured: time from the first grant until every node holds what it should;
one edit at the party reaching every node (median, p99 over `--edits`);
`--changes` changes at the party (edits, untags, erasures) converged
everywhere; a campaign's door knock reaching the party; idle CPU of all
processes and their total memory once converged; the party's CPU for each.
"""

import argparse
import asyncio
import contextlib
import dataclasses
import os
import random
import signal
import statistics
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import synclib
from synclib import BenchError, log

from tagshare.node import pairing, shares
from tagshare.node import people as people_ops
from tagshare.node.client import FederationClient
from tagshare.node.node import Node, init_node, open_node
from tagshare.node.storage import db
from tagshare.node.storage import people as people_store

TAG = "volunteers"
FIELDS = "name,email,phone,contacts"
LEADERS = 20  # people every campaign receives, to watch one edit reach every node
TARGETS = {"edit_median_s": 2.0, "changes_s": 60.0, "knock_median_s": 1.0,
           "idle_cpu_percent": 25.0, "memory_mb": 8192.0}


@dataclasses.dataclass
class Org:
    kind: str  # party, county, campaign
    index: int
    home: Path
    port: int
    county: int | None = None
    node_id: str = ""

    @property
    def name(self) -> str:
        return f"Bench {self.kind.title()} {self.index}"


# -- serving a group of nodes in one process ---------------------------------------------


async def serve_group(homes: list[Path]) -> None:
    """Serve every home on its config's port in this process until SIGTERM."""
    from aiohttp import web

    from tagshare.node.server import create_app
    from tagshare.node.service import raise_open_files_limit

    raise_open_files_limit()
    runners: list[web.AppRunner] = []
    nodes: list[Node] = []
    for home in homes:
        node = open_node(home)
        nodes.append(node)
        runner = web.AppRunner(create_app(node), handle_signals=False, access_log=None)
        await runner.setup()
        port = int(node.config.url.rsplit(":", 1)[1])
        try:
            await web.TCPSite(runner, synclib.HOST, port).start()
        except OSError:  # taken since it was picked (another node's outgoing connection)
            await web.TCPSite(runner, synclib.HOST, 0).start()
            port = int(runner.addresses[-1][1])
            node.config = dataclasses.replace(node.config, url=f"http://{synclib.HOST}:{port}")
            node.config.save(home)  # before pairing: peers learn this URL
        runners.append(runner)
    print("ready", flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    orphan_watch = asyncio.create_task(_stop_when_orphaned(stop))
    await stop.wait()
    orphan_watch.cancel()
    for runner in runners:
        await runner.cleanup()
    for node in nodes:
        node.close()


async def _stop_when_orphaned(stop: asyncio.Event) -> None:
    """A group whose benchmark died (killed, Ctrl-C twice) stops too, instead of serving on."""
    parent = os.getppid()
    while os.getppid() == parent:
        await asyncio.sleep(1)
    stop.set()


@dataclasses.dataclass
class Group:
    homes: list[Path]
    process: subprocess.Popen[str]

    def stat(self) -> tuple[float, float]:
        """CPU seconds used so far and resident memory now (MB)."""
        pid = self.process.pid
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        rss = 0.0
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) / 1024
        return cpu, rss


def start_group(homes: list[Path], log_path: Path, profile: Path | None = None) -> Group:
    env = dict(os.environ)
    env.pop("STATEWIDE_PROFILE", None)
    if profile is not None:
        env["STATEWIDE_PROFILE"] = str(profile)
    with log_path.open("w") as errors:
        process = subprocess.Popen(
            [synclib.PYTHON, __file__, "--serve-group", *map(str, homes)],
            stdout=subprocess.PIPE, stderr=errors, stdin=subprocess.DEVNULL, text=True,
            cwd=synclib.REPO, start_new_session=True, env=env)
    assert process.stdout is not None
    if process.stdout.readline().strip() != "ready":
        process.kill()
        raise BenchError(f"a node group did not start: {log_path.read_text()[-1500:]}")
    return Group(homes, process)


def stop_group(group: Group) -> None:
    synclib.stop_process(group.process, timeout=30)


# -- building the picture -----------------------------------------------------------------


def topology(work: Path, nodes: int) -> list[Org]:
    counties = max(1, nodes // 6)
    campaigns = nodes - 1 - counties
    if campaigns < 1:
        raise BenchError("--nodes must be at least 3")
    orgs = [Org("party", 0, work / "party", synclib.free_port())]
    orgs += [Org("county", i, work / f"county-{i}", synclib.free_port())
             for i in range(counties)]
    orgs += [Org("campaign", i, work / f"campaign-{i}", synclib.free_port(), county=i % counties)
             for i in range(campaigns)]
    return orgs


def create_nodes(orgs: list[Org], args: argparse.Namespace) -> None:
    source = synclib.prepared_source(args.people, args.seed, args.cache)
    party = orgs[0]
    synclib.copy_home(source, party.home)
    synclib.set_url(party.home, party.port)
    for org in orgs[1:]:
        init_node(org.home, name=org.name, url=f"http://{synclib.HOST}:{org.port}").close()
    for org in orgs:
        org.node_id = synclib.node_id(org.home)


def volunteer_uuids(party: Node, count: int) -> list[str]:
    return [r[0] for r in party.conn.execute(
        "SELECT uuid FROM people WHERE origin IS NULL ORDER BY rowid LIMIT ?", (count,))]


def slices(volunteers: list[str], orgs: list[Org]) -> dict[int, list[str]]:
    """Campaign index -> the volunteers it receives: the leaders, and an equal part of its
    county's volunteers (each county's campaigns split the rest)."""
    rest = volunteers[LEADERS:]
    by_county: dict[int, list[Org]] = {}
    for org in orgs:
        if org.kind == "campaign":
            assert org.county is not None
            by_county.setdefault(org.county, []).append(org)
    chosen: dict[int, list[str]] = {}
    for members in by_county.values():
        for k, org in enumerate(members):
            chosen[org.index] = volunteers[:LEADERS] + rest[k::len(members)]
    return chosen


def tag_before_sharing(party: Node, volunteers: list[str], chosen: dict[int, list[str]]) -> None:
    """Tag in one transaction before any share exists (no outbox rows)."""
    with db.transaction(party.conn) as conn:
        tag = people_store.tag_id(conn, TAG, create=True) or 0
        people_store.add_taggings(conn, [(tag, uuid) for uuid in volunteers])
        for index, uuids in chosen.items():
            slice_tag = people_store.tag_id(conn, f"campaign-{index}", create=True) or 0
            people_store.add_taggings(conn, [(slice_tag, uuid) for uuid in uuids])


async def pair_all(ops: dict[str, Node], inviter: Org, joiners: list[Org]) -> None:
    """`invite` on the inviter, `peer add TOKEN --auto-accept` on each joiner, in process."""
    client = FederationClient()
    try:
        for joiner in joiners:
            now = int(time.time())
            token = pairing.create_invite(ops[inviter.node_id], timedelta(hours=1), now)
            await pairing.join(ops[joiner.node_id], token.encode(), alias=None,
                               auto_accept=True, client=client, now=now)
    finally:
        await client.close()


def route_campaign_slice(picture: "Picture", party: Org, county: Org, campaign: Org) -> None:
    """`--route direct`: the party grants each campaign its slice tag itself."""
    shares.grant_share(picture.ops[party.node_id], tag=f"campaign-{campaign.index}",
                       peer=campaign.node_id, fields=FIELDS, on_revoke="purge", note=None)


def reshare_campaign_slice(picture: "Picture", party: Org, county: Org,
                           campaign: Org) -> None:
    """`--route reshare` (the default): the county tags the campaign's slice among the
    people it received from the party (granted `--reshare narrower`) and re-shares that
    tag; the party's edits, untags and erasures cascade through the county."""
    origin_uuids = picture.chosen[campaign.index]
    conn = picture.watch.conns[county.node_id]
    local: list[str] = []
    for start in range(0, len(origin_uuids), 500):
        part = origin_uuids[start:start + 500]
        marks = ",".join("?" * len(part))
        local += [row[0] for row in conn.execute(
            f"SELECT uuid FROM people WHERE origin = ? AND origin_uuid IN ({marks})",
            (party.node_id, *part))]
    op = picture.ops[county.node_id]
    slice_tag = f"campaign-{campaign.index}"
    with db.transaction(op.conn) as write:
        tag = people_store.tag_id(write, slice_tag, create=True) or 0
        people_store.add_taggings(write, [(tag, uuid) for uuid in local])
    shares.grant_share(op, tag=slice_tag, peer=campaign.node_id, fields=FIELDS,
                       on_revoke="purge", note=None)


# -- watching -------------------------------------------------------------------------------


class Watch:
    """Read-only connections to every node's database."""

    def __init__(self, orgs: list[Org]) -> None:
        self.orgs = orgs
        self.conns = {org.node_id: synclib.ro(org.home) for org in orgs}

    def received(self, org: Org, origin: str) -> int:
        return int(self.conns[org.node_id].execute(
            "SELECT count(*) FROM people WHERE origin = ?", (origin,)).fetchone()[0])

    def first_names(self, origin: str, uuid: str) -> dict[str, str | None]:
        names: dict[str, str | None] = {}
        for org in self.orgs[1:]:
            row = self.conns[org.node_id].execute(
                "SELECT first_name FROM people WHERE origin = ? AND origin_uuid = ?",
                (origin, uuid)).fetchone()
            names[org.node_id] = row[0] if row else None
        return names

    def pending(self, org: Org) -> int:
        return int(self.conns[org.node_id].execute(
            "SELECT count(*) FROM pending").fetchone()[0])

    def close(self) -> None:
        for conn in self.conns.values():
            conn.close()


def wait_for(done: Any, timeout: float, what: str, every: float = 0.01) -> float:
    """Seconds until done() is true (BenchError after timeout)."""
    started = time.monotonic()
    while not done():
        if time.monotonic() - started > timeout:
            raise BenchError(f"timed out after {timeout:.0f}s: {what}")
        time.sleep(every)
    return time.monotonic() - started


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))]


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


@dataclasses.dataclass
class Picture:
    orgs: list[Org]
    ops: dict[str, Node]
    groups: list[Group]
    watch: Watch
    volunteers: list[str]
    chosen: dict[int, list[str]]

    @property
    def party(self) -> Org:
        return self.orgs[0]

    def party_cpu(self) -> float:
        return self.groups[0].stat()[0]


def build(work: Path, args: argparse.Namespace, result: dict[str, Any]) -> Picture:
    started = time.monotonic()
    orgs = topology(work, args.nodes)
    create_nodes(orgs, args)
    ops = {org.node_id: open_node(org.home) for org in orgs}
    party = orgs[0]
    volunteers = volunteer_uuids(ops[party.node_id], args.volunteers)
    chosen = slices(volunteers, orgs)
    tag_before_sharing(ops[party.node_id], volunteers, chosen)
    result["created_s"] = time.monotonic() - started
    groups: list[Group] = []
    started = time.monotonic()
    others = orgs[1:]
    for batch in [[party]] + [others[i:i + args.per_process]
                              for i in range(0, len(others), args.per_process)]:
        profile = args.profile_party if not groups else None
        groups.append(start_group([org.home for org in batch],
                                  work / f"group-{len(groups)}.log", profile))
    result["started_s"] = time.monotonic() - started
    for node in ops.values():  # again: a node whose port was taken now has another URL
        node.close()
    ops = {org.node_id: open_node(org.home) for org in orgs}
    log(f"{len(orgs)} nodes in {len(groups)} processes, started in {result['started_s']:.1f}s")
    started = time.monotonic()
    asyncio.run(pair_all(ops, party, orgs[1:]))
    if args.route == "reshare":  # each campaign also pairs with its county
        for county in (org for org in orgs if org.kind == "county"):
            asyncio.run(pair_all(ops, county, [org for org in orgs if org.kind == "campaign"
                                               and org.county == county.index]))
    result["paired_s"] = time.monotonic() - started
    log(f"paired {len(orgs) - 1} nodes with the party in {result['paired_s']:.1f}s (in process)")
    return Picture(orgs, ops, groups, Watch(orgs), volunteers, chosen)


def converge(picture: Picture, args: argparse.Namespace, result: dict[str, Any]) -> None:
    party = picture.party
    counties = [org for org in picture.orgs if org.kind == "county"]
    campaigns = [org for org in picture.orgs if org.kind == "campaign"]
    cpu = picture.party_cpu()
    started = time.monotonic()
    for county in counties:
        shares.grant_share(picture.ops[party.node_id], tag=TAG, peer=county.node_id,
                           fields=FIELDS, on_revoke="purge", note=None,
                           reshare_terms="narrower" if args.route == "reshare" else "none")
    if args.route == "reshare":  # a county re-shares only what it holds
        wait_for(lambda: all(picture.watch.received(county, party.node_id)
                             >= len(picture.volunteers) for county in counties),
                 args.timeout, "every county holds the volunteers", every=0.2)
    for campaign in campaigns:
        assert campaign.county is not None
        route = route_campaign_slice if args.route == "direct" else reshare_campaign_slice
        route(picture, party, counties[campaign.county], campaign)
    expected = {org.node_id: len(picture.volunteers) for org in counties}
    expected |= {org.node_id: len(picture.chosen[org.index]) for org in campaigns}
    waiting = set(expected)

    def all_hold() -> bool:
        for node_id in list(waiting):
            org = next(o for o in picture.orgs if o.node_id == node_id)
            if picture.watch.received(org, party.node_id) >= expected[node_id]:
                waiting.discard(node_id)
        return not waiting

    wait_for(all_hold, args.timeout, "every node holds its share", every=0.2)
    result["converge_s"] = time.monotonic() - started
    result["converge_people"] = sum(expected.values())
    result["party_cpu_converge_s"] = picture.party_cpu() - cpu
    result["load_converge"] = loadavg()
    log(f"converged: {result['converge_people']:,} people at {len(expected)} nodes in "
        f"{result['converge_s']:.1f}s; load {result['load_converge']}")


def one_edit(picture: Picture, uuid: str, token: str, timeout: float) -> float:
    party = picture.party
    people_ops.edit_person(picture.ops[party.node_id], uuid, {"first_name": token})
    started = time.monotonic()
    wait_for(lambda: all(name == token for name in
                         picture.watch.first_names(party.node_id, uuid).values()),
             timeout, f"edit {token} reaches every node", every=0.005)
    return time.monotonic() - started


def edits(picture: Picture, args: argparse.Namespace, result: dict[str, Any]) -> None:
    time.sleep(args.settle)  # the receivers still checkpoint what the initial sync wrote
    cpu = picture.party_cpu()
    times = [one_edit(picture, picture.volunteers[i % LEADERS], f"Edit{i:04d}", args.timeout)
             for i in range(args.edits)]
    party_cpu = picture.party_cpu() - cpu
    peers = len(picture.orgs) - 1
    result["edit_s"] = {"median": statistics.median(times), "p99": percentile(times, 99),
                        "max": max(times), "all": times}
    result["party_cpu_per_edit_ms"] = party_cpu / len(times) * 1000
    result["party_cpu_per_peer_per_edit_ms"] = party_cpu / len(times) / peers * 1000
    result["load_edits"] = loadavg()
    log(f"one edit reaches all {peers} nodes: median {result['edit_s']['median']:.3f}s, "
        f"p99 {result['edit_s']['p99']:.3f}s; party CPU {result['party_cpu_per_edit_ms']:.1f} "
        f"ms per edit; load {result['load_edits']}")


KNOCKED = 5  # people of its own slice each campaign shares back to the party


def share_back(picture: Picture, args: argparse.Namespace) -> dict[str, list[str]]:
    """Each campaign tags KNOCKED of the people it received `door-knocks` and grants the
    party that tag with `contacts` (the way contacts flow back today); the party accepts.
    Campaign node id -> its local uuids of those people."""
    party = picture.party
    campaigns = [org for org in picture.orgs if org.kind == "campaign"]
    knocked: dict[str, list[str]] = {}
    for campaign in campaigns:
        origin_uuids = picture.chosen[campaign.index][LEADERS:LEADERS + KNOCKED]
        conn = picture.watch.conns[campaign.node_id]
        knocked[campaign.node_id] = [conn.execute(
            "SELECT uuid FROM people WHERE origin = ? AND origin_uuid = ?",
            (party.node_id, uuid)).fetchone()[0] for uuid in origin_uuids]
        op = picture.ops[campaign.node_id]
        with db.transaction(op.conn) as write:
            tag = people_store.tag_id(write, "door-knocks", create=True) or 0
            people_store.add_taggings(write, [(tag, uuid) for uuid in knocked[campaign.node_id]])
        shares.grant_share(op, tag="door-knocks", peer=party.node_id, fields="contacts",
                           on_revoke="keep", note=None)
    party_op = picture.ops[party.node_id]

    def offered() -> list[dict[str, Any]]:
        return [share for share in shares.list_shares(party_op, "incoming")
                if share["status"] == "offered"]

    wait_for(lambda: len(offered()) == len(campaigns), args.timeout,
             "the party sees every campaign's offer", every=0.1)
    for n, share in enumerate(offered()):
        shares.accept_share(party_op, share["id"], f"door-knocks-{n}")
    wait_for(lambda: all(picture.watch.pending(org) == 0 for org in campaigns), args.timeout,
             "every campaign has sent its door-knocks share", every=0.1)
    return knocked


def knocks(picture: Picture, args: argparse.Namespace, result: dict[str, Any]) -> None:
    party = picture.party
    started = time.monotonic()
    knocked = share_back(picture, args)
    result["share_back_s"] = time.monotonic() - started
    campaigns = [org for org in picture.orgs if org.kind == "campaign"]
    rng = random.Random(args.seed)
    party_conn = picture.watch.conns[party.node_id]
    times: list[float] = []
    for i in range(args.knocks):
        campaign = rng.choice(campaigns)
        person = knocked[campaign.node_id][i % KNOCKED]
        contact = people_ops.add_contact(picture.ops[campaign.node_id], person, method="door",
                                         outcome="supporter", note=None, at=None,
                                         by="bench canvasser")
        started = time.monotonic()
        wait_for(lambda c=contact: party_conn.execute(  # type: ignore[misc]
                     "SELECT 1 FROM contacts WHERE uuid = ?", (c,)).fetchone() is not None,
                 args.timeout, "a door knock reaches the party", every=0.005)
        times.append(time.monotonic() - started)
    result["knock_s"] = {"median": statistics.median(times), "p99": percentile(times, 99),
                         "max": max(times)}
    result["load_knocks"] = loadavg()
    log(f"a campaign's door knock reaches the party: median {result['knock_s']['median']:.3f}s"
        f" (sharing back set up in {result['share_back_s']:.1f}s)")


def changes(picture: Picture, args: argparse.Namespace, result: dict[str, Any]) -> None:
    """Edits (80%), untags (10%) and erasures (10%) of distinct non-leader volunteers."""
    party = picture.party
    op = picture.ops[party.node_id]
    rng = random.Random(args.seed + 1)
    pool = picture.volunteers[LEADERS:]
    targets = rng.sample(pool, min(args.changes, len(pool)))
    slice_of = {uuid: index for index, uuids in picture.chosen.items() for uuid in uuids[LEADERS:]}
    cpu = picture.party_cpu()
    started = time.monotonic()
    for n, uuid in enumerate(targets):
        kind = n % 10
        if kind == 8:
            people_ops.remove_tags(op, uuid, [TAG, f"campaign-{slice_of[uuid]}"]
                                   if uuid in slice_of else [TAG])
        elif kind == 9:
            people_ops.erase_person(op, uuid)
        else:
            people_ops.edit_person(op, uuid, {"last_name": f"Changed{n}"})
    committed = time.monotonic() - started
    marker = one_edit(picture, picture.volunteers[0], "Marker", args.timeout)
    wait_for(lambda: all(picture.watch.pending(org) == 0 for org in picture.orgs),
             args.timeout, "no node owes anything")
    result["changes"] = len(targets)
    result["changes_committed_s"] = committed
    result["changes_s"] = time.monotonic() - started
    result["changes_marker_after_commit_s"] = marker
    result["party_cpu_changes_s"] = picture.party_cpu() - cpu
    result["load_changes"] = loadavg()
    log(f"{len(targets):,} changes converged everywhere {result['changes_s']:.1f}s after the "
        f"first (committing them took {committed:.1f}s); load {result['load_changes']}")


def idle(picture: Picture, args: argparse.Namespace, result: dict[str, Any]) -> None:
    time.sleep(args.settle)
    before = [group.stat()[0] for group in picture.groups]
    time.sleep(args.idle_seconds)
    after = [group.stat() for group in picture.groups]
    cpu = sum(a[0] for a in after) - sum(before)
    result["idle_cpu_percent_of_a_core"] = cpu / args.idle_seconds * 100
    result["party_idle_cpu_percent"] = (after[0][0] - before[0]) / args.idle_seconds * 100
    result["memory_mb_total"] = sum(a[1] for a in after)
    result["memory_mb_per_node"] = result["memory_mb_total"] / len(picture.orgs)
    result["load_idle"] = loadavg()
    log(f"idle: all {len(picture.orgs)} nodes together use "
        f"{result['idle_cpu_percent_of_a_core']:.2f}% of a core; memory "
        f"{result['memory_mb_total']:.0f} MB in all; load {result['load_idle']}")


def run(args: argparse.Namespace, work: Path) -> int:
    result: dict[str, Any] = {"benchmark": "statewide", "nodes": args.nodes,
                              "people": args.people, "volunteers": args.volunteers,
                              "per_process": args.per_process, "load_start": loadavg()}
    picture: Picture | None = None
    try:
        picture = build(work, args, result)
        result["counties"] = sum(org.kind == "county" for org in picture.orgs)
        result["campaigns"] = sum(org.kind == "campaign" for org in picture.orgs)
        result["processes"] = len(picture.groups)
        converge(picture, args, result)
        edits(picture, args, result)
        knocks(picture, args, result)
        changes(picture, args, result)
        idle(picture, args, result)
    finally:
        if picture is not None:
            picture.watch.close()
            for group in picture.groups:
                stop_group(group)
            for node in picture.ops.values():
                node.close()
    result["targets"] = TARGETS
    result["met"] = {
        "edit_median": result["edit_s"]["median"] < TARGETS["edit_median_s"],
        "changes": result["changes_s"] < TARGETS["changes_s"],
        "knock_median": result["knock_s"]["median"] < TARGETS["knock_median_s"],
        "idle_cpu": result["idle_cpu_percent_of_a_core"] < TARGETS["idle_cpu_percent"],
        "memory": result["memory_mb_total"] < TARGETS["memory_mb"],
    }
    print(f"\nstatewide, {args.nodes} nodes ({result['counties']} counties, "
          f"{result['campaigns']} campaigns, {result['processes']} processes)")
    for key in ("converge_s", "changes_s", "idle_cpu_percent_of_a_core", "memory_mb_total",
                "party_cpu_per_edit_ms", "party_cpu_per_peer_per_edit_ms"):
        print(f"  {key}: {result[key]:.3f}")
    print(f"  edit to every node: median {result['edit_s']['median']:.3f}s "
          f"p99 {result['edit_s']['p99']:.3f}s; door knock: "
          f"median {result['knock_s']['median']:.3f}s")
    print(f"  targets met: {result['met']}")
    synclib.write_json("statewide", result, args.json)
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--serve-group"]:
        profile = os.environ.get("STATEWIDE_PROFILE")  # a file: cProfile this group into it
        if not profile:
            asyncio.run(serve_group([Path(home) for home in argv[1:]]))
            return 0
        import cProfile
        cProfile.runctx("asyncio.run(serve_group(homes))", globals(),
                        {"homes": [Path(home) for home in argv[1:]]}, profile)
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, default=30)
    parser.add_argument("--people", type=int, default=50_000, help="people at the party")
    parser.add_argument("--volunteers", type=int, default=20_000,
                        help="of them tagged volunteers and shared with every county")
    parser.add_argument("--route", choices=("reshare", "direct"), default="reshare",
                        help="campaigns get their slice re-shared by their county (reshare) "
                             "or granted by the party itself (direct)")
    parser.add_argument("--per-process", type=int, default=25,
                        help="nodes served by one process (the party is always alone)")
    parser.add_argument("--edits", type=int, default=20)
    parser.add_argument("--knocks", type=int, default=20)
    parser.add_argument("--changes", type=int, default=10_000)
    parser.add_argument("--settle", type=float, default=5.0,
                        help="seconds of quiet before the edits, and before idle is measured")
    parser.add_argument("--idle-seconds", type=float, default=30.0)
    parser.add_argument("--timeout", type=float, default=900.0)
    parser.add_argument("--profile-party", type=Path,
                        help="write a cProfile of the party's process to this file")
    synclib.add_common_options(parser, json=synclib.OUT / "statewide.json")
    args = parser.parse_args(argv)
    return synclib.run_in_workspace(args, "bench_statewide", run)


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
