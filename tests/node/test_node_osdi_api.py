"""The OSDI API on one node: tokens, pages, filters, writes, and every refusal."""

from __future__ import annotations

import asyncio
import sqlite3
from contextlib import closing
from typing import Any

import pytest
from aiohttp import web
from osdi_helpers import API, Api
from received_helpers import Peer

from tagshare.node import people
from tagshare.node.osdi import tokens
from tagshare.node.osdi.app import MAX_BODY, MAX_PAGESIZE, create_osdi_app
from tagshare.node.osdi.ratelimit import RateLimiter


def add_people(api: Api, count: int) -> list[str]:
    return [people.add_person(api.node, {"first_name": f"P{i}", "email": f"p{i}@example.org"},
                              ["volunteers"] if i % 2 else []) for i in range(count)]


# --- tokens and the guard ------------------------------------------------------------


async def test_without_any_token_the_api_does_not_exist(osdi: Api) -> None:
    tokens.revoke_token(osdi.node, "reader")
    tokens.revoke_token(osdi.node, "writer")
    status, body = await osdi.get("/people")
    assert status == 404
    status, _ = await osdi.get("/")
    assert status == 404


async def test_missing_unknown_revoked_and_expired_tokens_get_401(osdi: Api) -> None:
    extra = tokens.create_token(osdi.node, "old", scope="write")["token"]
    expiring = tokens.create_token(osdi.node, "short", scope="write", expires="1d")["token"]
    with closing(sqlite3.connect(osdi.home / "node.db")) as conn, conn:
        conn.execute("UPDATE api_tokens SET expires_at = '2000-01-01T00:00:00.000Z' "
                     "WHERE name = 'short'")
    tokens.revoke_token(osdi.node, "old")
    response = await osdi.client.get(f"{API}/people")
    assert response.status == 401
    before = osdi.snapshot()
    for token in ("tsk_guess", extra, expiring, "x" * 5000):
        status, body = await osdi.send("POST", "/people", {"email_addresses": [
            {"address": "eve@example.org"}]}, token=token)
        assert status == 401, token
        assert "error" in body and body["osdi:status"]["code"] == 401
    assert osdi.snapshot() == before


async def test_a_read_token_cannot_write(osdi: Api) -> None:
    add_people(osdi, 1)
    before = osdi.snapshot()
    for method, path, body in (
        ("POST", "/people", {"email_addresses": [{"address": "eve@example.org"}]}),
        ("POST", "/people/person_signup_helper", {"person": {"given_name": "Eve"}}),
        ("POST", "/tags", {"name": "eve"}),
    ):
        status, answer = await osdi.send(method, path, body, token=osdi.read_token)
        assert status == 403
        assert "read-only" in answer["error"]
    assert osdi.snapshot() == before


async def test_token_hash_only_is_stored_and_use_is_audited(osdi: Api) -> None:
    with closing(sqlite3.connect(osdi.home / "node.db")) as conn:
        stored = [tuple(r) for r in conn.execute("SELECT * FROM api_tokens")]
    assert all(osdi.write_token not in str(row) for row in stored)
    await osdi.send("POST", "/tags", {"name": "volunteers"})
    await osdi.get("/tags")
    actions = osdi.audit_actions()
    assert actions.count("api_token.create") == 2
    assert actions.count("osdi.write") == 1  # the write, not the read


async def test_rate_limit_allows_a_burst_then_answers_429_with_retry_after(
        osdi: Api, aiohttp_client: Any) -> None:
    now = [1000.0]
    limiter = RateLimiter(clock=lambda: now[0])
    outer = web.Application()
    outer.add_subapp(API, create_osdi_app(osdi.node, osdi.client.app[_db_key()],
                                          limiter=limiter))
    client = await aiohttp_client(outer)
    headers = {"OSDI-API-Token": osdi.read_token}
    statuses = [(await client.get(f"{API}/tags", headers=headers)).status for _ in range(50)]
    assert statuses == [200] * 50
    refused = await client.get(f"{API}/tags", headers=headers)
    assert refused.status == 429
    assert int(refused.headers["Retry-After"]) >= 1
    other = await client.get(f"{API}/tags", headers={"OSDI-API-Token": osdi.write_token})
    assert other.status == 200  # the limit is per token
    now[0] += 1.0  # a second later: at least ten more requests
    statuses = [(await client.get(f"{API}/tags", headers=headers)).status for _ in range(10)]
    assert statuses == [200] * 10


def _db_key() -> Any:
    from tagshare.node.server import DB_THREAD

    return DB_THREAD


# --- reading people ------------------------------------------------------------------


async def test_people_page_by_25_and_end_with_an_empty_embedded_list(osdi: Api) -> None:
    made = add_people(osdi, 60)
    status, entry = await osdi.get("/")
    assert status == 200 and entry["max_pagesize"] == MAX_PAGESIZE
    assert entry["_links"]["osdi:people"]["href"].endswith(f"{API}/people")
    seen: list[str] = []
    for page in (1, 2, 3):
        status, body = await osdi.get("/people", page=page)
        assert status == 200
        assert body["total_pages"] == 3 and body["per_page"] == 25 and body["page"] == page
        seen += [p["identifiers"][0].split(":", 1)[1] for p in body["_embedded"]["osdi:people"]]
        assert ("next" in body["_links"]) == (page < 3)
        assert ("previous" in body["_links"]) == (page > 1)
    assert seen == made
    status, past = await osdi.get("/people", page=4)
    assert status == 200 and past["_embedded"] == {"osdi:people": []}


async def test_per_page_is_capped_and_bad_paging_is_refused(osdi: Api) -> None:
    add_people(osdi, 3)
    status, body = await osdi.get("/people", per_page=10**8)
    assert status == 200 and body["per_page"] == MAX_PAGESIZE
    for bad in ({"page": "0"}, {"page": "-1"}, {"per_page": "ten"}, {"page": "1e3"},
                {"page": "١"}):
        status, body = await osdi.get("/people", **bad)
        assert status == 400, bad
        assert "error" in body


async def test_a_person_reads_in_osdi_shape(osdi: Api) -> None:
    uuid = people.add_person(osdi.node, {
        "first_name": "Ann", "last_name": "Lee", "email": "ann@example.org",
        "phone": "(614) 555-0101", "address1": "1 Main St", "city": "Columbus",
        "state": "OH", "zip": "43215"}, ["volunteers"])
    status, body = await osdi.get(f"/people/{uuid}")
    assert status == 200
    assert body["identifiers"] == [f"tagshare:{uuid}"]
    assert (body["given_name"], body["family_name"]) == ("Ann", "Lee")
    assert body["email_addresses"] == [{"address": "ann@example.org", "primary": True}]
    assert body["phone_numbers"] == [{"number": "+16145550101", "primary": True}]
    assert body["postal_addresses"] == [{"primary": True, "address_lines": ["1 Main St"],
                                         "locality": "Columbus", "region": "OH",
                                         "postal_code": "43215"}]
    assert body["created_date"] and body["modified_date"]
    assert "tagshare:origin" not in body
    assert body["_links"]["curies"][0]["name"] == "osdi"
    status, taggings = await osdi.get(f"/people/{uuid}/taggings")
    assert [t["tagshare:tag_name"] for t in taggings["_embedded"]["osdi:taggings"]] == [
        "volunteers"]


async def test_bad_ids_are_404(osdi: Api) -> None:
    for path in ("/people/nobody", "/people/00000000-0000-0000-0000-000000000000",
                 "/people/' OR 1=1 --", "/tags/abc", "/tags/99", "/donations/x",
                 "/canvasses/1", "/tags/1/taggings"):
        status, body = await osdi.get(path)
        assert status == 404, path


async def test_filters_by_modified_date_and_email(osdi: Api) -> None:
    ann, ben = add_people(osdi, 2)
    with closing(sqlite3.connect(osdi.home / "node.db")) as conn, conn:
        conn.execute("UPDATE people SET updated_at = '2025-06-01T00:00:00.000Z' WHERE uuid = ?",
                     (ann,))

    async def found(expression: str) -> list[str]:
        status, body = await osdi.get("/people", filter=expression)
        assert status == 200, body
        return [p["identifiers"][0][9:] for p in body["_embedded"]["osdi:people"]]

    assert await found("modified_date gt '2026-01-01'") == [ben]
    assert await found("modified_date lt '2026-01-01'") == [ann]
    assert await found("email_address eq 'P1@example.org'") == [ben]
    status, body = await osdi.get("/people", filter="modified_date gt '2026-01-01'", per_page=1)
    assert "filter=modified_date" in body["_links"]["self"]["href"]


@pytest.mark.parametrize("expression", [
    "modified_date gt '2026-01-01' OR 1=1",
    "email_address eq '' OR ''=''",
    "modified_date gt '2026-01-01'; DROP TABLE people; --",
    "uuid eq 'x'",
    "email_address gt 'a@b.c'",
    "modified_date gt 'yesterday'",
    "modified_date gt 2026-01-01",
    "x" * 400,
])
async def test_anything_but_the_known_filters_is_refused(osdi: Api, expression: str) -> None:
    add_people(osdi, 2)
    before = osdi.snapshot()
    status, body = await osdi.get("/people", filter=expression)
    assert status == 400
    assert body["osdi:status"]["code"] == 400
    assert osdi.snapshot() == before


# --- writing people ------------------------------------------------------------------


async def test_post_people_matches_by_email_then_updates_and_tags(osdi: Api) -> None:
    status, made = await osdi.send("POST", "/people", {
        "person": {"given_name": "Ann", "email_addresses": [{"address": "ann@example.org"}],
                   "phone_numbers": [{"number": "614 555 0101"}]},
        "add_tags": ["volunteers", "brand-new"]})
    assert status == 200
    uuid = made["identifiers"][0][9:]
    assert made["created_date"] == made["modified_date"]
    status, again = await osdi.send("POST", "/people/person_signup_helper", {
        "person": {"family_name": "Lee", "email_addresses": [{"address": "ANN@example.org"}]},
        "remove_tags": ["brand-new"]})
    assert status == 200 and again["identifiers"] == made["identifiers"]
    assert (again["given_name"], again["family_name"]) == ("Ann", "Lee")  # merged
    assert again["phone_numbers"][0]["number"] == "+16145550101"
    assert people.show_person(osdi.node, uuid)["tags"] == ["volunteers"]
    # the phone alone finds her too; a different email is a different person
    status, by_phone = await osdi.send("POST", "/people", {
        "phone_numbers": [{"number": "+1 614 555 0101"}], "given_name": "Ann"})
    assert by_phone["identifiers"] == made["identifiers"]
    status, other = await osdi.send("POST", "/people", {
        "email_addresses": [{"address": "someone.else@example.org"}]})
    assert other["identifiers"] != made["identifiers"]


async def test_put_merges_fields_and_null_deletes(osdi: Api) -> None:
    uuid = people.add_person(osdi.node, {"first_name": "Ann", "last_name": "Lee",
                                         "email": "ann@example.org", "city": "Columbus"}, [])
    status, body = await osdi.send("PUT", f"/people/{uuid}", {
        "family_name": None, "postal_addresses": [{"locality": "Dayton"}],
        "add_tags": ["donors"]})
    assert status == 200
    assert body["given_name"] == "Ann" and body["family_name"] is None
    assert body["postal_addresses"][0]["locality"] == "Dayton"
    assert people.show_person(osdi.node, uuid)["tags"] == ["donors"]


async def test_received_people_are_readable_not_writable(osdi: Api) -> None:
    peer = Peer(osdi.home, "Rivera Campaign", local_tag="rivera:volunteers")
    received = peer.send("0190a0b0-0000-7000-8000-000000000001", first_name="Rae",
                         email="rae@example.org")
    status, body = await osdi.get(f"/people/{received}")
    assert status == 200
    assert body["tagshare:origin"]["peer"] == "Rivera Campaign"
    assert body["tagshare:origin"]["read_only"] is True
    before = osdi.snapshot()
    status, body = await osdi.send("PUT", f"/people/{received}", {"given_name": "Mallory"})
    assert status == 403
    assert "read-only" in body["error"] and body["osdi:status"]["code"] == 403
    assert osdi.snapshot() == before


async def test_hostile_bodies_are_refused_and_change_nothing(osdi: Api) -> None:
    uuid = add_people(osdi, 1)[0]
    before = osdi.snapshot()
    cases: list[tuple[str, str, Any, bytes | None, int]] = [
        ("POST", "/people", None, b"{not json", 400),
        ("POST", "/people", None, b"[1, 2]", 400),
        ("POST", "/people", None, b'{"email_addresses": [{"address": "a@b.org"}],' +
         b'"given_name": "' + b"x" * (MAX_BODY + 10) + b'"}', 413),
        ("POST", "/people", {"email_addresses": "ann@example.org"}, None, 400),
        ("POST", "/people", {"email_addresses": [{"address": "not an email"}]}, None, 400),
        ("POST", "/people", {"given_name": "No Contact"}, None, 400),
        ("POST", "/people", {"email_addresses": [{"address": "a@b.org"}],
                             "given_name": 12}, None, 400),
        ("POST", "/people", {"email_addresses": [{"address": "a@b.org"}],
                             "add_tags": ["a,b"]}, None, 400),
        ("PUT", "/people/not-a-uuid", {"given_name": "X"}, None, 404),
        ("PUT", f"/people/{uuid}", {"given_name": "x" * 501}, None, 400),
        ("POST", "/tags", {"name": ""}, None, 400),
        ("POST", "/tags/1/taggings", {"_links": {}}, None, 400),
        ("POST", "/donations", {"amount": "-5", "_links": {"osdi:donor": {
            "href": f"/people/{uuid}"}}}, None, 400),
        ("POST", "/canvasses", {"contact_type": "telepathy", "_links": {"osdi:target": {
            "href": f"/people/{uuid}"}}}, None, 400),
    ]
    for method, path, body, raw, expected in cases:
        status, answer = await osdi.send(method, path, body, raw=raw)
        assert status == expected, (path, body, raw and raw[:40], answer)
        assert "error" in answer
    assert osdi.snapshot() == before
    assert "osdi.write" not in osdi.audit_actions()


# --- tags, taggings, donations, canvasses --------------------------------------------


async def test_tags_and_taggings(osdi: Api) -> None:
    ann = add_people(osdi, 1)[0]
    status, tag = await osdi.send("POST", "/tags", {"name": "phonebank"})
    assert status == 200 and tag["name"] == "phonebank"
    tag_path = tag["_links"]["self"]["href"].split(API, 1)[1]
    status, again = await osdi.send("POST", "/tags", {"name": "phonebank"})
    assert again["identifiers"] == tag["identifiers"]
    status, tagging = await osdi.send("POST", f"{tag_path}/taggings", {
        "_links": {"osdi:person": {"href": f"http://x{API}/people/{ann}"}}})
    assert status == 200
    status, listed = await osdi.get(f"{tag_path}/taggings")
    assert [t["_links"]["osdi:person"]["href"].rsplit("/", 1)[1]
            for t in listed["_embedded"]["osdi:taggings"]] == [ann]
    status, all_tags = await osdi.get("/tags")
    assert [t["name"] for t in all_tags["_embedded"]["osdi:tags"]] == ["phonebank"]
    status, one = await osdi.get(tag_path)
    assert one["name"] == "phonebank"
    status, one_tagging = await osdi.get(f"{tag_path}/taggings/{ann}")
    assert status == 200 and one_tagging["identifiers"] == tagging["identifiers"]
    status, _ = await osdi.send("DELETE", f"{tag_path}/taggings/{ann}")
    assert status == 200
    status, _ = await osdi.get(f"{tag_path}/taggings/{ann}")
    assert status == 404
    assert people.show_person(osdi.node, ann)["tags"] == []
    status, _ = await osdi.send("DELETE", f"{tag_path}/taggings/{ann}")
    assert status == 404


async def test_donations_and_canvasses_read_and_write(osdi: Api) -> None:
    ann = add_people(osdi, 1)[0]
    status, donation = await osdi.send("POST", f"/people/{ann}/donations", {
        "amount": "25.50", "currency": "usd", "action_date": "2026-03-01T10:00:00Z"})
    assert status == 200 and donation["amount"] == "25.50" and donation["currency"] == "USD"
    status, other = await osdi.send("POST", "/donations", {
        "recipients": [{"display_name": "us", "amount": "10"}],
        "_links": {"osdi:donor": {"href": f"{API}/people/{ann}"}}})
    assert status == 200 and other["amount"] == "10.00"
    status, listed = await osdi.get(f"/people/{ann}/donations")
    assert [d["amount"] for d in listed["_embedded"]["osdi:donations"]] == ["25.50", "10.00"]
    status, listed = await osdi.get("/donations")
    assert listed["total_records"] == 2
    status, canvass = await osdi.send("POST", "/canvasses", {
        "contact_type": "in-person", "status_code": "supporter", "notes": "call back",
        "canvasser": "vol7", "_links": {"osdi:target": {"href": f"{API}/people/{ann}"}}})
    assert status == 200 and canvass["tagshare:method"] == "door"
    shown = people.show_person(osdi.node, ann)
    assert [(c["method"], c["outcome"], c["by"]) for c in shown["contacts"]] == [
        ("door", "supporter", "vol7")]
    status, listed = await osdi.get(f"/people/{ann}/canvasses")
    assert listed["_embedded"]["osdi:canvasses"][0]["status_code"] == "supporter"
    cid = canvass["identifiers"][0][9:]
    status, one = await osdi.get(f"/canvasses/{cid}")
    assert one["notes"] == "call back"


async def test_concurrent_readers_are_all_answered(osdi: Api) -> None:
    add_people(osdi, 30)
    answers = await asyncio.gather(*(osdi.get("/people", page=p % 3 + 1) for p in range(20)))
    assert all(status == 200 for status, _ in answers)


async def test_the_people_count_follows_every_writer(osdi: Api) -> None:
    """The total is kept between pages, and is new after any commit: another
    connection's (the CLI's), or the server's own (an API write)."""
    from tagshare.node.node import open_node

    add_people(osdi, 2)
    assert (await osdi.get("/people"))[1]["total_records"] == 2
    assert (await osdi.get("/people", page=2))[1]["total_records"] == 2
    other = open_node(osdi.home)
    try:
        people.add_person(other, {"email": "cli@example.org"}, [])
    finally:
        other.close()
    assert (await osdi.get("/people"))[1]["total_records"] == 3
    await osdi.send("POST", "/people", {"email_addresses": [{"address": "api@example.org"}]})
    status, body = await osdi.get("/people")
    assert body["total_records"] == 4 and len(body["_embedded"]["osdi:people"]) == 4
