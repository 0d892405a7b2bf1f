"""Parsons' ActionNetwork connector, the library itself, against a running node's OSDI API.

Parsons is a test dependency (pyproject's `test` extra); without it these tests skip.
Its calls are blocking (requests), so each runs on a thread while the node serves.
"""

from __future__ import annotations

import asyncio
import logging
import warnings
from typing import Any

import pytest
from federation_helpers import RunningNode

from tagshare.node import people
from tagshare.node.osdi import tokens

with warnings.catch_warnings():
    # Parsons warns on import that its install now pulls only core dependencies.
    warnings.simplefilter("ignore", RuntimeWarning)
    parsons = pytest.importorskip("parsons", reason="parsons is not installed "
                                  "(pip install -e '.[test]')")
    from parsons.utilities.api_connector import APIConnector


def connector(node: RunningNode, token: str) -> Any:
    """Parsons' ActionNetwork pointed at the node, as docs/osdi.md tells users to."""
    an = parsons.ActionNetwork(api_token=token)
    an.api_url = f"{node.url}/api/osdi/v1"
    an.api = APIConnector(an.api_url, headers=an.headers)
    return an


async def test_parsons_reads_people_tags_and_taggings(alice: RunningNode) -> None:
    made = [people.add_person(alice.node, {"first_name": f"P{i}", "email": f"p{i}@example.org"},
                              ["volunteers"] if i % 3 == 0 else []) for i in range(60)]
    token = tokens.create_token(alice.node, "parsons", scope="read")["token"]
    an = connector(alice, token)

    table = await asyncio.to_thread(an.get_people)
    assert table.num_rows == 60
    assert [row["identifiers"][0] for row in table] == [f"tagshare:{u}" for u in made]

    person = await asyncio.to_thread(an.get_person, made[7])
    assert person["given_name"] == "P7"
    assert person["email_addresses"][0]["address"] == "p7@example.org"

    tags = await asyncio.to_thread(an.get_tags)
    assert [row["name"] for row in tags] == ["volunteers"]
    tag_id = tags[0]["_links"]["self"]["href"].rsplit("/", 1)[1]
    taggings = await asyncio.to_thread(an.get_taggings, tag_id)
    assert taggings.num_rows == 20
    assert {row["_links"]["osdi:person"]["href"].rsplit("/", 1)[1] for row in taggings} == \
        set(made[::3])


async def test_parsons_upsert_creates_then_updates(alice: RunningNode,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    token = tokens.create_token(alice.node, "form", scope="write")["token"]
    an = connector(alice, token)
    with caplog.at_level(logging.INFO, logger="parsons"):
        first = await asyncio.to_thread(
            lambda: an.upsert_person(email_address="ann@example.org", given_name="Ann",
                                     tags=["volunteers"]))
        second = await asyncio.to_thread(
            lambda: an.upsert_person(email_address="ann@example.org", given_name="Annie",
                                     tags=["donors"]))
    assert first["identifiers"] == second["identifiers"]
    assert first["created_date"] == first["modified_date"]
    assert second["created_date"] != second["modified_date"]
    uuid = first["identifiers"][0].split(":", 1)[1]
    shown = people.show_person(alice.node, uuid)
    assert (shown["first_name"], shown["email"]) == ("Annie", "ann@example.org")
    assert shown["tags"] == ["donors", "volunteers"]
    assert people.counts(alice.node)["people"] == 1
    # Parsons looks for an action_network: identifier and logs that it found none
    # (docs/osdi.md tells users what this line means).
    assert "no valid person_id" in caplog.text

    reader = connector(alice, tokens.create_token(alice.node, "ro", scope="read")["token"])
    with pytest.raises(Exception, match="403"):
        await asyncio.to_thread(lambda: reader.upsert_person(email_address="eve@example.org"))
    assert people.counts(alice.node)["people"] == 1
