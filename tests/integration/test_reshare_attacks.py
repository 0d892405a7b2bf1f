"""A middle node that tries to re-share what its origin did not allow, on real nodes.

The county received the party's volunteers with `--reshare none`. Whatever it
sends the campaign (a forged grant of the party, the party's real grant, the
real grant with its permission edited, a forged chain in a batch), the
campaign refuses it and nothing changes. (A hostile middle node can always
copy what it holds by other means: docs/protocol.md 9.8 says so.)
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

from reshare_helpers import Chain, chain_of_three
from shares_helpers import assert_unchanged, make_batch, send_as, settled, wait_until

from tagshare.node import people
from tagshare.node.ids import uuid7
from tagshare.protocol import Item, ShareOffer, b64u_encode
from tagshare.protocol.reshare import Grant, Provenance, grant_input, make_grant
from tagshare.protocol.shares import Relayed


def _offer(chain: Chain, upstream: tuple[tuple[Grant, ...], ...],
           reshare: str = "none") -> ShareOffer:
    county, campaign = chain.county, chain.campaign
    share = uuid7()
    grant = make_grant(county.op.keys, (), subscriber=campaign.node_id, share=share,
                       tag="volunteers", fields=("name", "email"), on_revoke="purge",
                       reshare=reshare)
    return ShareOffer(share=share, tag="volunteers", fields=("name", "email"),
                      on_revoke="purge", note="", epoch=b64u_encode(os.urandom(16)),
                      reshare=reshare, grant=grant, upstream=upstream)


async def _received_grant(chain: Chain) -> Grant:
    sub = await chain.active(chain.party, chain.county, fields="name,email")
    row = chain.county.share(sub)
    assert row is not None
    return Grant.from_dict(json.loads(row["grant_signed"]))


async def test_a_middle_node_cannot_forge_or_stretch_the_origin_s_terms(tmp_path: Path) -> None:
    async with chain_of_three(tmp_path) as chain:
        party, county, campaign = chain.party, chain.county, chain.campaign
        real = await _received_grant(chain)
        assert real.reshare == "none" and real.granter == party.node_id
        claimed = dataclasses.replace(real, reshare="same")  # the party's name, the county's key
        forged = dataclasses.replace(claimed, signature=b64u_encode(
            county.op.keys.sign(grant_input(claimed.terms()))))
        stretched = dataclasses.replace(real, reshare="same")
        before = campaign.snapshot()
        for path, why in (((forged,), "does not verify"), ((stretched,), "does not verify"),
                          ((real,), "without permission")):
            status, body = await send_as(county, campaign, _offer(chain, (path,)))
            assert (status, body["error"]) == (403, "forbidden"), body
            assert why in body["message"], body
        assert_unchanged(before, campaign.snapshot())


async def test_a_forged_chain_in_a_batch_changes_nothing(tmp_path: Path) -> None:
    async with chain_of_three(tmp_path) as chain:
        party, county, campaign = chain.party, chain.county, chain.campaign
        await _received_grant(chain)
        ann = party.add_person(first_name="Ann", email="ann@example.org")
        await wait_until(lambda: county.copy_of(party, ann), message="Ann reaches the county")
        own = county.add_person(tags=("mine",), first_name="Carl", email="carl@example.org")
        down = await chain.active(county, campaign, tag="mine", fields="name,email")
        await wait_until(lambda: campaign.copy_of(county, own), message="Carl arrives")
        await settled(county, down)
        before = campaign.snapshot()
        row = county.share(down)
        assert row is not None
        forged = Item(op="upsert", uuid=uuid7(), version=10**9,
                      fields={"first_name": "Ann", "email": "ann@example.org"},
                      contacts=None, donations=None,
                      chain=Provenance(party.node_id, ann, (county.node_id,)))
        status, body = await send_as(county, campaign,
                                     make_batch(county, down, row["seq"] + 1, [forged]))
        assert (status, body["error"]) == (403, "forbidden"), body
        assert_unchanged(before, campaign.snapshot())
        assert campaign.copy_of(party, ann) is None


async def test_an_offer_whose_grant_is_not_from_its_sender_is_refused(tmp_path: Path) -> None:
    async with chain_of_three(tmp_path) as chain:
        county, campaign, party = chain.county, chain.campaign, chain.party
        before = campaign.snapshot()
        offer = _offer(chain, ())
        # The party's envelope carrying the county's signed grant: not the sender's terms.
        status, body = await send_as(party, campaign, offer)
        assert (status, body["error"]) == (403, "forbidden"), body
        # A grant to someone else, replayed to the campaign.
        other = make_grant(county.op.keys, (), subscriber=party.node_id, share=offer.share,
                           tag=offer.tag, fields=offer.fields, on_revoke="purge",
                           reshare="none")
        status, body = await send_as(county, campaign, dataclasses.replace(offer, grant=other))
        assert (status, body["error"]) == (403, "forbidden"), body
        assert_unchanged(before, campaign.snapshot())


async def test_relayed_records_never_touch_what_others_originated(tmp_path: Path) -> None:
    async with chain_of_three(tmp_path) as chain:
        party, county, campaign = chain.party, chain.county, chain.campaign
        sub = await chain.active(party, county, fields="name,contacts")
        ann = party.add_person(first_name="Ann", email="ann@example.org")
        own = people.add_contact(party.op, ann, method="phone", outcome="supporter", note="ours",
                                 at=None, by=None)
        await wait_until(lambda: county.copy_of(party, ann), message="Ann reaches the county")
        back = await chain.active(county, party, tag=chain.local_tag(county, sub),
                                  fields="contacts")
        copy = county.copy_of(party, ann)
        row = county.share(back)
        assert row is not None
        before = party.snapshot()
        record = {"uuid": own, "method": "door", "outcome": "hostile", "note": "forged",
                  "at": "2026-10-03T14:30:00.000Z", "by": None}

        def item(author: str) -> Item:
            return Item(op="upsert", uuid=copy["uuid"], version=10**9, fields={},
                        contacts=(), donations=None, ref=(party.node_id, ann),
                        relayed=(Relayed(node=author, contacts=(record,), donations=None),))

        for author in (party.node_id, county.node_id):  # the receiver's, or the sender's
            status, body = await send_as(county, party,
                                         make_batch(county, back, row["seq"] + 1, [item(author)]))
            assert (status, body["error"]) == (400, "malformed"), body
        assert_unchanged(before, party.snapshot())

        # In the campaign's name, with the uuid of the party's own contact: a separate
        # record, keyed (campaign, uuid); the party's own is untouched.
        status, body = await send_as(county, party, make_batch(
            county, back, row["seq"] + 1, [item(campaign.node_id)]))
        assert status == 200, body
        mine = party.query("SELECT * FROM contacts WHERE uuid = ? AND origin IS NULL", (own,))
        assert (mine[0]["note"], mine[0]["person"]) == ("ours", ann)
        relayed = party.query("SELECT * FROM contacts WHERE uuid = ? AND origin = ?",
                              (own, campaign.node_id))
        assert (relayed[0]["via"], relayed[0]["note"]) == (county.node_id, "forged")
