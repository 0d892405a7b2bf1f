"""What the origin does to its terms cascades down the chain: narrowing and revoking."""

from __future__ import annotations

from pathlib import Path

from reshare_helpers import chain_of_three
from shares_helpers import settled, wait_until

from node import shares


async def test_a_field_the_party_drops_disappears_downstream(tmp_path: Path) -> None:
    async with chain_of_three(tmp_path) as chain:
        party, county, campaign = chain.party, chain.county, chain.campaign
        sub = await chain.active(party, county, fields="name,email", reshare="narrower")
        ann = party.add_person(first_name="Ann", email="ann@example.org")
        await wait_until(lambda: county.copy_of(party, ann), message="Ann reaches the county")
        down = await chain.active(county, campaign, tag=chain.local_tag(county, sub),
                                  fields="name,email")
        await wait_until(lambda: campaign.copy_of(party, ann), message="Ann reaches campaign")

        shares.edit_share(party.op, sub, fields="name", on_revoke=None)
        await wait_until(lambda: county.share(sub)["proposed"] is not None,
                         message="the new terms reach the county")
        shares.accept_share(county.op, sub, None)
        await wait_until(lambda: campaign.copy_of(party, ann)["email"] is None,
                         message="the dropped field disappears at the campaign")
        assert campaign.copy_of(party, ann)["first_name"] == "Ann"
        party.edit(ann, email="new@example.org", first_name="Annie")
        await wait_until(lambda: campaign.copy_of(party, ann)["first_name"] == "Annie",
                         message="later edits still flow")
        await settled(county, down)
        assert campaign.copy_of(party, ann)["email"] is None


async def test_a_revoke_ends_the_re_shares_and_purges_by_the_party_s_terms(
        tmp_path: Path) -> None:
    async with chain_of_three(tmp_path) as chain:
        party, county, campaign = chain.party, chain.county, chain.campaign
        sub = await chain.active(party, county, fields="name,email", reshare="narrower",
                                 on_revoke="purge")
        ann = party.add_person(first_name="Ann", email="ann@example.org")
        await wait_until(lambda: county.copy_of(party, ann), message="Ann reaches the county")
        down = await chain.active(county, campaign, tag=chain.local_tag(county, sub),
                                  fields="name,email", on_revoke="keep")
        assert county.share(down)["on_revoke"] == "purge"  # the party's terms, not the county's
        await wait_until(lambda: campaign.copy_of(party, ann), message="Ann reaches campaign")

        shares.revoke_share(party.op, sub)
        await wait_until(lambda: campaign.status(down) == "revoked",
                         message="the re-share ends with the share it came from")
        assert county.status(down) == "revoked"
        assert campaign.copy_of(party, ann) is None
        assert county.copy_of(party, ann) is None


async def test_kept_by_the_party_s_terms_stays_frozen_downstream(tmp_path: Path) -> None:
    async with chain_of_three(tmp_path) as chain:
        party, county, campaign = chain.party, chain.county, chain.campaign
        sub = await chain.active(party, county, fields="name,email", reshare="narrower",
                                 on_revoke="keep")
        ann = party.add_person(first_name="Ann", email="ann@example.org")
        await wait_until(lambda: county.copy_of(party, ann), message="Ann reaches the county")
        down = await chain.active(county, campaign, tag=chain.local_tag(county, sub),
                                  fields="name,email", on_revoke="purge")
        assert county.share(down)["on_revoke"] == "keep"
        await wait_until(lambda: campaign.copy_of(party, ann), message="Ann reaches campaign")

        shares.revoke_share(party.op, sub)
        await wait_until(lambda: campaign.status(down) == "revoked",
                         message="the re-share ends with the share it came from")
        assert campaign.copy_of(party, ann)["email"] == "ann@example.org"
        assert county.copy_of(party, ann)["email"] == "ann@example.org"
