"""`tagshare osdi pull`: from another node's OSDI API over real HTTP, incremental and
idempotent, taggings removed at the source removed here; and refusals of a bad source."""

from __future__ import annotations

import asyncio
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from click.testing import CliRunner, Result
from federation_helpers import RunningNode

from tagshare.cli.main import cli
from tagshare.node import people
from tagshare.node.osdi import tokens
from tagshare.node.osdi.source import SourceError
from tagshare.node.osdi.sources import pull_url

API = "/api/osdi/v1"


def token_file(tmp_path: Path, node: RunningNode, name: str = "puller") -> str:
    path = tmp_path / f"{name}.token"
    path.write_text(tokens.create_token(node.node, name, scope="read")["token"] + "\n")
    return str(path)


async def run_cli(node: RunningNode, *args: str) -> Result:
    return await asyncio.to_thread(CliRunner().invoke, cli, ["--home", str(node.home), *args])


def state(node: RunningNode) -> dict[str, Any]:
    """Each person (by email) with their fields and tags; and the taggings count."""
    with closing(sqlite3.connect(node.home / "node.db")) as conn:
        rows = conn.execute(
            "SELECT p.email, p.first_name, p.last_name, p.phone, p.city, p.version, "
            "(SELECT group_concat(g.name, ',') FROM (SELECT g.name FROM taggings t JOIN tags g "
            "ON g.id = t.tag WHERE t.person = p.uuid ORDER BY g.name) g) "
            "FROM people p ORDER BY p.email").fetchall()
    return {row[0]: row[1:] for row in rows}


def fill(source: RunningNode, count: int) -> list[str]:
    return [people.add_person(source.node, {
        "first_name": f"P{i}", "last_name": "Doe", "email": f"p{i}@example.org",
        "phone": f"614555{i:04d}", "city": "Columbus"},
        [tag for tag, every in (("volunteers", 3), ("donors", 5)) if i % every == 0])
        for i in range(count)]


async def test_pull_from_another_node_is_incremental_and_idempotent(
        alice: RunningNode, bob: RunningNode, tmp_path: Path) -> None:
    made = fill(alice, 30)
    url = f"{alice.url}{API}"
    secret = token_file(tmp_path, alice)
    first = await pull_url(bob.node, url, secret)
    assert (first.added, first.updated, first.tagged, first.untagged) == (30, 0, 10 + 6, 0)
    assert state(bob) == {e: (*v[:4], 1, v[5]) for e, v in state(alice).items()}

    again = await pull_url(bob.node, url, secret)  # nothing changed at the source
    assert (again.added, again.updated, again.unchanged, again.tagged) == (0, 0, 0, 0)
    everything = await pull_url(bob.node, url, secret, since="2000-01-01")
    assert (everything.added, everything.updated, everything.unchanged) == (0, 0, 30)
    before = state(bob)

    people.edit_person(alice.node, made[1], {"city": "Dayton"})
    people.remove_tags(alice.node, made[3], ["volunteers"])
    people.add_tags(alice.node, made[2], ["donors"])
    later = await pull_url(bob.node, url, secret)
    assert (later.added, later.updated, later.tagged, later.untagged) == (0, 1, 1, 1)
    after = state(bob)
    assert after["p1@example.org"][3] == "Dayton"
    assert after["p3@example.org"][5] is None
    assert after["p2@example.org"][5] == "donors"
    assert {e: v for e, v in after.items() if e not in ("p1@example.org", "p2@example.org",
                                                         "p3@example.org")} == \
        {e: v for e, v in before.items() if e not in ("p1@example.org", "p2@example.org",
                                                      "p3@example.org")}


async def test_pull_keeps_the_operators_own_taggings_and_matches_existing_people(
        alice: RunningNode, bob: RunningNode, tmp_path: Path) -> None:
    made = fill(alice, 4)
    own = people.add_person(bob.node, {"first_name": "Pat", "email": "P0@example.org"},
                            ["volunteers"])
    url, secret = f"{alice.url}{API}", token_file(tmp_path, alice)
    report = await pull_url(bob.node, url, secret)
    assert (report.added, report.updated) == (3, 1)  # P0 matched by email, not duplicated
    assert people.show_person(bob.node, own)["last_name"] == "Doe"
    people.remove_tags(alice.node, made[0], ["volunteers"])
    report = await pull_url(bob.node, url, secret)
    assert report.untagged == 0  # the operator tagged Pat before any pull: kept
    assert people.show_person(bob.node, own)["tags"] == ["donors", "volunteers"]


async def test_pull_with_tags_copies_only_those_people(
        alice: RunningNode, bob: RunningNode, tmp_path: Path) -> None:
    fill(alice, 15)
    report = await pull_url(bob.node, f"{alice.url}{API}", token_file(tmp_path, alice),
                            tags=["donors", "nobody-has-this"])
    assert report.added == 3
    assert {v[5] for v in state(bob).values()} == {"donors"}
    assert any("nobody-has-this" in reason for reason in report.skipped)


async def test_the_cli_pulls_with_a_summary_line(alice: RunningNode, bob: RunningNode,
                                                 tmp_path: Path) -> None:
    fill(alice, 5)
    secret = token_file(tmp_path, alice)
    result = await run_cli(bob, "osdi", "pull", f"{alice.url}{API}", "--token-file", secret)
    assert result.exit_code == 0, result.output
    assert "added 5, updated 0" in result.stdout
    listed = await run_cli(bob, "osdi", "list", "--json")
    assert f"{alice.url}{API}" in listed.stdout


@pytest.mark.parametrize("answer", [
    web.Response(text="<html>maintenance</html>", content_type="text/html"),
    web.json_response([1, 2, 3]),
    web.json_response({"_embedded": {"osdi:people": "nope"}}),
    web.json_response({"error": "boom"}, status=500),
    web.Response(body=b"{" + b" " * (9 * 1024 * 1024) + b"}", content_type="application/json"),
])
async def test_a_bad_source_changes_nothing(bob: RunningNode, tmp_path: Path,
                                            aiohttp_server: Any, answer: web.Response) -> None:
    async def anything(request: web.Request) -> web.Response:
        if request.path.endswith("/tags"):
            return web.json_response({"_embedded": {"osdi:tags": []}})
        return answer

    app = web.Application()
    app.router.add_get("/{tail:.*}", anything)
    server = await aiohttp_server(app)
    secret = tmp_path / "t"
    secret.write_text("tok")
    before = state(bob)
    with pytest.raises(SourceError):
        await pull_url(bob.node, f"http://127.0.0.1:{server.port}/api", str(secret))
    assert state(bob) == before
    with closing(sqlite3.connect(bob.home / "node.db")) as conn:
        assert conn.execute("SELECT count(*) FROM osdi_sources").fetchone()[0] == 0


# --- Action Network's shapes -------------------------------------------------------------


@pytest.fixture
async def action_network(aiohttp_server: Any) -> Any:
    """A small server answering with Action Network's documented shapes; it honours
    `page` and a `modified_date gt` filter, and records every request."""
    from action_network_examples import PEOPLE, TAG_ID, TAGS, collection, tagging

    state_: dict[str, Any] = {"requests": [], "filters": [], "tagged": [0, 2],
                              "people": list(PEOPLE)}

    async def answer(request: web.Request) -> web.Response:
        state_["requests"].append(request.path)
        state_["filters"].append(request.query.get("filter"))
        if request.headers.get("OSDI-API-Token") != "an-secret":
            return web.json_response({"error": "API Key invalid or not present"}, status=403)
        page = int(request.query.get("page", "1"))
        path = request.match_info["tail"]
        if path == "people":
            chosen = state_["people"]
            flt = request.query.get("filter", "")
            if flt.startswith("modified_date gt '"):
                since = flt.split("'")[1]
                chosen = [p for p in chosen if p["modified_date"] > since]
            return web.json_response(collection("osdi:people", "people", chosen, page))
        if path == "tags":
            return web.json_response(collection("osdi:tags", "tags", TAGS, page))
        if path == f"tags/{TAG_ID}/taggings":
            items = [tagging(i) for i in state_["tagged"]]
            return web.json_response(collection("osdi:taggings", path, items, page))
        return web.json_response({"error": "not found"}, status=404)

    app = web.Application()
    app.router.add_get("/api/v2/{tail:.*}", answer)
    server = await aiohttp_server(app)
    state_["url"] = f"http://127.0.0.1:{server.port}/api/v2"
    return state_


async def test_pull_from_action_network_shapes(bob: RunningNode, tmp_path: Path,
                                               action_network: Any) -> None:
    secret = tmp_path / "an.token"
    secret.write_text("an-secret\n")
    report = await pull_url(bob.node, action_network["url"], str(secret))
    assert (report.added, report.tagged, report.skipped) == (3, 2, [])
    got = state(bob)
    assert got["jsmith@mail.com"][:4] == ("John", "Smith", "+12024444444", "Washington")
    assert got["jsmith@mail.com"][5] == got["ana.r@mail.com"][5] == "Volunteers"
    assert got["janedoe@mail.com"][2] is None and got["janedoe@mail.com"][5] is None
    assert report.cursor == "2014-03-25T10:00:00.000Z"
    # pages asked by number under the source's URL, never at the actionnetwork.org hrefs
    assert all(r.startswith("/api/v2/") for r in action_network["requests"])

    before = state(bob)
    again = await pull_url(bob.node, action_network["url"], str(secret))
    assert (again.added, again.updated, again.tagged, again.untagged) == (0, 0, 0, 0)
    assert state(bob) == before
    assert action_network["filters"][-1] == "modified_date gt '2014-03-25T10:00:00.000Z'"

    action_network["tagged"] = [2]  # John untagged at Action Network
    report = await pull_url(bob.node, action_network["url"], str(secret))
    assert report.untagged == 1
    assert state(bob)["jsmith@mail.com"][5] is None


async def test_a_refused_token_is_one_clear_error(bob: RunningNode, tmp_path: Path,
                                                  action_network: Any) -> None:
    secret = tmp_path / "wrong.token"
    secret.write_text("guess")
    with pytest.raises(SourceError, match="HTTP 403"):
        await pull_url(bob.node, action_network["url"], str(secret))
    result = await run_cli(bob, "osdi", "pull", action_network["url"], "--token-file",
                           str(secret))
    assert result.exit_code == 1
    assert result.output.strip().startswith("Error:") and "HTTP 403" in result.output
    assert "Traceback" not in result.output


async def test_registered_sources_are_pulled_beside_the_server(
        alice: RunningNode, bob: RunningNode, tmp_path: Path) -> None:
    from datetime import timedelta

    from shares_helpers import wait_until

    from tagshare.node.osdi.sources import add_source, pull_forever

    fill(alice, 5)
    add_source(bob.node, "alice", f"{alice.url}{API}", token_file(tmp_path, alice))

    def cursor() -> str | None:
        with closing(sqlite3.connect(bob.home / "node.db")) as conn:
            row = conn.execute("SELECT cursor FROM osdi_sources WHERE name = 'alice'").fetchone()
        return None if row is None else row[0]

    task = asyncio.create_task(pull_forever(bob.home, timedelta(hours=1)))
    try:
        await wait_until(cursor, message="the periodic pull finishes")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert len(state(bob)) == 5
