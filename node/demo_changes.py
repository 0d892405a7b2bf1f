"""The demo's live changes: each makes one change on a node and says how to see it arrive.

CHANGES is the list the demo plays, in order; a step returns a Change whose probes
poll each target's database until the change is visible there.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tagshare.node import demo_data, shares
from tagshare.node import people as people_ops
from tagshare.node.demo_data import VOLUNTEERS
from tagshare.node.demo_model import POLL_SECONDS, SYNC_TIMEOUT, Demo, DemoNode, incoming_share, ms
from tagshare.node.errors import NodeError
from tagshare.node.normalize import normalize_phone
from tagshare.node.storage import activity
from tagshare.node.storage import people as people_store
from tagshare.node.storage import received as inbound


@dataclass
class Probe:
    """`seen(target)` is true once the change is visible in the target's database."""

    target: DemoNode
    seen: Callable[[DemoNode], bool]


@dataclass
class Change:
    what: str
    source: DemoNode
    probes: list[Probe]


def run_change(demo: Demo, step: Callable[[Demo], Change]) -> None:
    """Make one change, then poll every target until it shows there; print one line."""
    change = step(demo)
    committed = time.monotonic()
    times: dict[str, float] = {}
    deadline = committed + SYNC_TIMEOUT
    while len(times) < len(change.probes):
        for probe in change.probes:
            if probe.target.short not in times and probe.seen(probe.target):
                times[probe.target.short] = time.monotonic() - committed
        if time.monotonic() > deadline:
            raise NodeError(f"{change.what} did not reach every node in {SYNC_TIMEOUT:.0f} s: "
                            f"see the logs in {demo.root}")
        time.sleep(POLL_SECONDS)
    reached = ", ".join(f"{p.target.short} {ms(times[p.target.short])}" for p in change.probes)
    demo.say(f"  {change.what} ({change.source.short}) -> {reached}")


def _copy(target: DemoNode, source: DemoNode, uuid: str) -> Any:
    return inbound.received_person(target.node.conn, source.node.node_id, uuid)


def _party_volunteer(demo: Demo) -> tuple[str, str]:
    """A volunteer every campaign holds and no earlier change touched: uuid, full name."""
    volunteers = sorted((p for p in people_ops.list_people(demo.party.node, tag=VOLUNTEERS)
                         if p["uuid"] not in demo.touched), key=lambda p: p["uuid"])
    person = demo.people.rng.choice(volunteers)
    demo.touched.add(person["uuid"])
    return person["uuid"], f"{person['first_name']} {person['last_name']}"


def new_volunteer(demo: Demo) -> Change:
    person = demo.people.person()
    uuid = people_ops.add_person(demo.party.node, person, [VOLUNTEERS])

    def seen(target: DemoNode) -> bool:
        return _copy(target, demo.party, uuid) is not None

    return Change(f"new volunteer {person['first_name']} {person['last_name']}", demo.party,
                  [Probe(c, seen) for c in demo.campaigns])


def edit_phone(demo: Demo) -> Change:
    uuid, name = _party_volunteer(demo)
    phone = demo.people.phone()
    people_ops.edit_person(demo.party.node, uuid, {"phone": phone})
    e164 = normalize_phone(phone)

    def seen(target: DemoNode) -> bool:
        row = _copy(target, demo.party, uuid)
        return row is not None and row["phone"] == e164

    return Change(f"{name}'s new phone {phone}", demo.party,
                  [Probe(c, seen) for c in demo.campaigns])


def untag(demo: Demo) -> Change:
    uuid, name = _party_volunteer(demo)
    people_ops.remove_tags(demo.party.node, uuid, [VOLUNTEERS])

    def seen(target: DemoNode) -> bool:
        row = _copy(target, demo.party, uuid)
        share = incoming_share(target, demo.party, VOLUNTEERS)
        local_tag = share["local_tag"] if share else None
        return row is None or local_tag not in people_store.tags_of(
            target.node.conn, [row["uuid"]])[row["uuid"]]

    return Change(f"{name} untagged {VOLUNTEERS}, withdrawn", demo.party,
                  [Probe(c, seen) for c in demo.campaigns])


def erase(demo: Demo) -> Change:
    uuid, name = _party_volunteer(demo)
    people_ops.erase_person(demo.party.node, uuid)

    def seen(target: DemoNode) -> bool:
        return _copy(target, demo.party, uuid) is None

    return Change(f"{name} erased", demo.party, [Probe(c, seen) for c in demo.campaigns])


def door_knock(demo: Demo) -> Change:
    """A campaign knocks on a volunteer it received from the party; the contact reaches the
    party and attaches to the party's own person (no global id: the copy knows its origin)."""
    campaign = next(c for c in demo.campaigns if c.plan and c.plan.shares_back)
    origin_uuid, name = _party_volunteer(demo)
    copy = _copy(campaign, demo.party, origin_uuid)
    contact = demo_data.log_door_knock(campaign.node, demo.people, copy["uuid"],
                                       by=f"{campaign.short} canvasser")

    def seen(target: DemoNode) -> bool:
        return any(c["uuid"] == contact
                   for c in activity.contacts_of(target.node.conn, origin_uuid))

    return Change(f"door knock at {name}'s, on the party's own record", campaign,
                  [Probe(demo.party, seen)])


def widen_terms(demo: Demo) -> Change:
    """The party adds email to a campaign's limited share without stopping it; the
    campaign accepts the new terms and the emails fill in."""
    campaign = next(c for c in demo.campaigns if c.plan and c.plan.fields != "all")
    share = incoming_share(campaign, demo.party, VOLUNTEERS)
    assert share is not None
    fields = f"{campaign.plan.fields if campaign.plan else 'name'},email"
    shares.edit_share(demo.party.node, share["id"], fields=fields, on_revoke=None)
    uuid, name = _party_volunteer(demo)

    def seen(target: DemoNode) -> bool:
        current = incoming_share(target, demo.party, VOLUNTEERS)
        if current is not None and current["pending_terms"] is not None:
            shares.accept_share(target.node, current["id"], None)  # the operator says yes
        row = _copy(target, demo.party, uuid)
        return row is not None and row["email"] is not None

    return Change(f"terms of {campaign.short}'s share widened to {fields} (v2), accepted",
                  demo.party, [Probe(campaign, seen)])


# Later steps of issue 5 (share edit, contacts attaching to the origin person,
# --not-contacted-since, contacts overlap, match review) are appended here.
CHANGES: list[Callable[[Demo], Change]] = [new_volunteer, edit_phone, untag, erase, door_knock,
                                           widen_terms]


