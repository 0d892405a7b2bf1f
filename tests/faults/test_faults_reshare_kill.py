"""kill -9 of the middle node of a chain (party -> county -> campaign) during a cascade.

Three `tagshare serve` processes. The party shares N people to the county with
`--reshare narrower`; the county re-shares them to the campaign. Then the party
edits a third of them, untags a thirtieth and erases four, and the county is
killed with SIGKILL while it passes that cascade on (once the round reached
the county, plus a seeded 0-30 ms),
and restarted on the same port (K rounds of changes, one kill each, as soon as
the round reaches the county). Afterwards the campaign must hold exactly the
party's shared people (origin = the party), field by field, with a tombstone
for each erased one, and all three databases must pass `PRAGMA integrity_check`.

Short (default): N=1,500, K=3. Long: N=20,000, K=10 with TAGSHARE_LONG_FAULTS=1.
"""

from __future__ import annotations

import os
import random
import time
from pathlib import Path

from fault_helpers import SEED, ServeNode, load_people, nodes, pair, wait_for

from tagshare.node import people, shares

LONG = os.environ.get("TAGSHARE_LONG_FAULTS") == "1"
PEOPLE, KILLS = (20_000, 10) if LONG else (1_500, 3)
TAG = "volunteers"


def _grant(granter: ServeNode, to: ServeNode, tag: str, reshare: str) -> str:
    data = shares.grant_share(granter.op, tag=tag, peer=to.node_id, fields="name,email",
                              on_revoke="purge", note=None, reshare_terms=reshare)
    share_id = str(data["id"])
    wait_for(lambda: to.status(share_id) == "offered", 30, "the offer")
    shares.accept_share(to.op, share_id, None)
    return share_id


def _count(node: ServeNode, table: str, where: str = "1",
           params: tuple[object, ...] = ()) -> int:
    return int(node.value(f"SELECT count(*) FROM {table} WHERE {where}", params))


def _wanted(party: ServeNode) -> dict[str, tuple[object, ...]]:
    rows = party.query("SELECT p.uuid, p.first_name, p.last_name, p.email FROM people p "
                       "JOIN taggings g ON g.person = p.uuid JOIN tags t ON t.id = g.tag "
                       "WHERE t.name = ? AND p.origin IS NULL", (TAG,))
    return {row[0]: tuple(row[1:]) for row in rows}


def _held(holder: ServeNode, party: ServeNode) -> dict[str, tuple[object, ...]]:
    rows = holder.query("SELECT origin_uuid, first_name, last_name, email FROM people "
                          "WHERE origin = ?", (party.node_id,))
    return {row[0]: tuple(row[1:]) for row in rows}


def _cascade(party: ServeNode, uuids: list[str], rng: random.Random,
             gone: set[str]) -> list[str]:
    """One round at the party: edits (as any tool writes them), untags and erasures."""
    live = [u for u in uuids if u not in gone]
    edited = rng.sample(live, len(live) // 3)
    party.execute("UPDATE people SET email = 'x' || email "
                  f"WHERE uuid IN ({', '.join('?' * len(edited))})", tuple(edited))
    untagged = rng.sample(live, len(uuids) // 30)
    for uuid in untagged:
        people.remove_tags(party.op, uuid, [TAG])
    erased = rng.sample([u for u in live if u not in set(untagged)], 4)
    for uuid in erased:
        people.erase_person(party.op, uuid)
    gone.update(untagged, erased)
    return erased


def test_middle_node_killed_during_a_cascade_loses_nothing(tmp_path: Path) -> None:
    rng = random.Random(SEED + 15)
    with nodes(tmp_path, "party", "county", "campaign") as (party, county, campaign):
        for node in (party, county, campaign):
            node.start()
        pair(party, county)
        pair(county, campaign)
        uuids = load_people(party, PEOPLE, rng)
        sub = _grant(party, county, TAG, "narrower")
        wait_for(lambda: _count(county, "people") == PEOPLE, 120, "the county's copies")
        local_tag = county.value("SELECT local_tag FROM shares WHERE id = ?", (sub,))
        down = _grant(county, campaign, local_tag, "none")
        wait_for(lambda: len(_held(campaign, party)) == PEOPLE, 120, "the campaign's copies")

        erased: list[str] = []
        gone: set[str] = set()
        kills_mid_cascade = 0
        for _ in range(KILLS):
            before = _held(county, party)
            erased += _cascade(party, uuids, rng, gone)
            wanted = _wanted(party)
            wait_for(lambda b=before: _held(county, party) != b, 120,  # type: ignore[misc]
                     "the cascade reaching the county")
            time.sleep(rng.uniform(0, 0.03))
            kills_mid_cascade += _held(campaign, party) != wanted
            county.kill9()
            county.start()
            for node in (party, county):
                node.execute("UPDATE delivery SET next_attempt = 0")

        def done() -> bool:
            for node in (party, county):
                node.execute("UPDATE delivery SET next_attempt = 0")
            return _held(campaign, party) == wanted and county.pending(down) == 0

        wait_for(done, 180, "the campaign converges", every=0.2)
        assert _count(campaign, "received", "share = ? AND state = 'member'",
                      (down,)) == len(wanted)
        tombstones = _count(campaign, "tombstones")
        assert tombstones >= len(erased)
        for node in (party, county, campaign):
            assert node.integrity() == "ok"
        assert county.kills == KILLS
        print(f"\nmiddle node kill -9: kills={county.kills} mid_cascade={kills_mid_cascade} "
              f"people={PEOPLE} erased={len(erased)} tombstones={tombstones}")
        del sub
