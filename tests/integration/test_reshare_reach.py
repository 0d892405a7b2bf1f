"""`tagshare share reach TAG`: the origin sees every node that holds its people."""

from __future__ import annotations

import json
from pathlib import Path

from reshare_helpers import Chain, chain_of_three
from shares_helpers import assert_unchanged, cli_json, run_cli, send_as, wait_until

from tagshare.node import shares
from tagshare.protocol import ShareReach
from tagshare.protocol.reshare import Grant, make_grant, make_notice


async def _re_shared(chain: Chain, people: int, fields: str) -> str:
    """The party shares `fields` of `people` people with the county (`--reshare
    narrower`), which re-shares name and email of them all to the campaign; the campaign's
    share id."""
    party, county = chain.party, chain.county
    sub = await chain.active(party, county, fields=fields, reshare="narrower")
    for n in range(people):
        party.add_person(first_name=f"P{n}", email=f"p{n}@example.org")
    await wait_until(lambda: county.count("people") == people,
                     message=f"{people} reach the county")
    return await chain.active(county, chain.campaign, tag=chain.local_tag(county, sub),
                              fields="name,email")


async def test_the_party_sees_where_its_people_went(tmp_path: Path) -> None:
    async with chain_of_three(tmp_path) as chain:
        party, county, campaign = chain.party, chain.county, chain.campaign
        down = await _re_shared(chain, 3, "name,email,phone")

        row = await wait_until(lambda: _reach_row(party, campaign.node_id, "active"),
                               message="the county's notice reaches the party")
        result = await run_cli(party, "share", "reach", "volunteers", "--json")
        rows = cli_json(result)
        direct = next(r for r in rows if r["holder"] == county.node_id)
        assert (direct["via"], direct["people"], direct["fields"], direct["reshare"]) == (
            [], 3, ["name", "email", "phone"], "narrower")
        onward = next(r for r in rows if r["holder"] == campaign.node_id)
        assert (onward["via"], onward["share"], onward["people"], onward["fields"],
                onward["reshare"], onward["status"]) == (
            [county.node_id], down, 3, ["name", "email"], "none", "active")
        assert row["people"] == 3
        table = await run_cli(party, "share", "reach", "volunteers")
        assert table.exit_code == 0 and "Campaign B" in table.output

        shares.revoke_share(county.op, down)
        await wait_until(lambda: _reach_row(party, campaign.node_id, "revoked"),
                         message="the end of the re-share is noticed too")
        missing = await run_cli(party, "share", "reach", "nobody-shares-this")
        assert missing.exit_code != 0 and len(missing.output.strip().splitlines()) == 1


async def test_counts_that_change_after_the_re_share_reach_the_party(tmp_path: Path) -> None:
    """The county tells the party again once its re-share's count has changed and it
    has gone quiet (node/reach.refresh), not only at offer, accept and end."""
    async with chain_of_three(tmp_path) as chain:
        party, campaign = chain.party, chain.campaign
        await _re_shared(chain, 2, "name,email")
        await wait_until(lambda: _reach_count(party, campaign.node_id) == 2,
                         message="the accept's notice counts two")
        for n in range(2, 5):
            party.add_person(first_name=f"P{n}", email=f"p{n}@example.org")
        await wait_until(lambda: campaign.count("people") == 5, message="five reach the campaign")
        await wait_until(lambda: _reach_count(party, campaign.node_id) == 5, timeout=30,
                         message="the county tells the party the new count")
        rows = cli_json(await run_cli(party, "share", "reach", "volunteers", "--json"))
        assert next(r for r in rows if r["holder"] == campaign.node_id)["people"] == 5


def _reach_count(party, holder: str) -> int | None:  # type: ignore[no-untyped-def]
    row = _reach_row(party, holder, "active")
    return None if row is None else int(row["people"])


def _reach_row(party, holder: str, status: str):  # type: ignore[no-untyped-def]
    rows = party.query("SELECT * FROM reach WHERE holder = ? AND status = ?", (holder, status))
    return rows[0] if rows else None


async def test_a_notice_for_someone_else_s_tag_is_refused(tmp_path: Path) -> None:
    async with chain_of_three(tmp_path) as chain:
        party, county, campaign = chain.party, chain.county, chain.campaign
        sub = await chain.active(party, county, fields="name,email", reshare="narrower")
        down = await chain.active(county, campaign, tag=chain.local_tag(county, sub),
                                  fields="name,email")
        await wait_until(lambda: _reach_row(party, campaign.node_id, "active"),
                         message="the honest notice arrives")
        party_grant = Grant.from_dict(json.loads(county.share(sub)["grant_signed"]))
        county_grant = Grant.from_dict(json.loads(county.share(down)["grant_signed"]))
        keys = campaign.op.keys
        own = make_grant(keys, (), subscriber=party.node_id, share=down, tag="mine",
                         fields=("name",), on_revoke="purge", reshare="none")
        before = party.snapshot()
        attempts = [
            # The campaign claims to re-share the party's people itself (it may not).
            make_notice(keys, (), path=(party_grant, county_grant, make_grant(
                keys, (), subscriber=party.node_id, share=sub, tag="v", fields=("name",),
                on_revoke="purge", reshare="none")), people=5, status="active", at=1),
            # The county's notice, forged by the campaign (signed with the campaign's key).
            make_notice(keys, (), path=(party_grant, county_grant), people=999,
                        status="revoked", at=2**40),
            # A notice about a share that did not come from the party at all.
            make_notice(keys, (), path=(county_grant, own), people=1, status="active", at=1),
        ]
        for notice in attempts:
            status, body = await send_as(campaign, party, ShareReach(notice=notice))
            assert (status, body["error"]) == (403, "forbidden"), body
        assert_unchanged(before, party.snapshot())
