"""POST /federation/v1/inbox between two real, paired nodes: acks and every refusal."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import aiohttp
import pytest
from click.testing import CliRunner
from federation_helpers import (
    FakeClock,
    RunningNode,
    StartNode,
    assert_unchanged,
    counts,
    expect_refusal,
    pair,
    post_inbox,
    sealed,
)

from tagshare.cli.main import cli
from tagshare.node.keystore import generate_keys
from tagshare.node.server import INBOX_PATH
from tagshare.protocol import Ack, Envelope, Ping, open_envelope, parse_envelope, verify_envelope

SMALL_BODY = 4096


@pytest.fixture
async def paired(alice: RunningNode, bob: RunningNode) -> tuple[RunningNode, RunningNode]:
    await pair(alice, bob)
    return alice, bob


async def refused(http: aiohttp.ClientSession, target: RunningNode, body: object, *,
                  status: int, code: str, nodes: list[RunningNode]) -> None:
    await expect_refusal(http, target, INBOX_PATH, body, status=status, code=code, nodes=nodes)


def flip(text: str, index: int) -> str:
    """Change one base64url character in the middle (still canonical base64url)."""
    replacement = "B" if text[index] == "A" else "A"
    return text[:index] + replacement + text[index + 1:]


def tampered(envelope: Envelope, field: str) -> bytes:
    data = envelope.to_dict()
    value = data[field]
    assert isinstance(value, str)
    data[field] = flip(value, len(value) // 2)
    return json.dumps(data).encode()


async def test_ping_is_acked_by_an_envelope_sealed_to_the_sender(
        http: aiohttp.ClientSession, paired: tuple[RunningNode, RunningNode],
        clock: FakeClock) -> None:
    alice, bob = paired
    before = alice.snapshot()
    ping = sealed(bob.keys, alice, created=clock())
    status, body = await post_inbox(http, alice, ping.to_bytes())
    assert status == 200, body
    ack_envelope = parse_envelope(body)
    assert (ack_envelope.sender, ack_envelope.recipient) == (alice.node_id, bob.node_id)
    verify_envelope(ack_envelope)
    ack = open_envelope(ack_envelope, recipient=bob.keys, sender_box_key=alice.keys.box_public)
    assert ack == Ack(message_id=ping.id, status="ok", detail={"pong": True})
    after = alice.snapshot()
    assert_unchanged(before, after, grown={"inbox_seen": 1})
    assert [row["message_id"] for row in alice.rows("inbox_seen")] == [ping.id]


async def test_replayed_message_is_refused_and_applied_once(
        http: aiohttp.ClientSession, paired: tuple[RunningNode, RunningNode],
        clock: FakeClock) -> None:
    alice, bob = paired
    raw = sealed(bob.keys, alice, created=clock()).to_bytes()
    status, _ = await post_inbox(http, alice, raw)
    assert status == 200
    await refused(http, alice, raw, status=409, code="replayed", nodes=[alice, bob])
    assert counts(alice.snapshot())["inbox_seen"] == 1


@pytest.mark.parametrize("body", [
    pytest.param(b"\xff\xfe garbage \x00", id="garbage"),
    pytest.param(b"", id="empty"),
    pytest.param(b'{"v": 1, "type": "ping", "sender": "', id="truncated-json"),
    pytest.param(b"[" * 100_000, id="deeply-nested"),
    pytest.param(b'{"v": 1}', id="wrong-shape"),
    pytest.param(b"[]", id="not-an-object"),
    pytest.param(b'{"v": 1, "v": 1}', id="duplicate-keys"),
    pytest.param(b'{"v": 1.0}', id="float"),
])
async def test_malformed_bodies_are_refused(
        http: aiohttp.ClientSession, paired: tuple[RunningNode, RunningNode],
        body: bytes) -> None:
    alice, bob = paired
    await refused(http, alice, body, status=400, code="malformed", nodes=[alice, bob])


async def test_truncated_envelope_is_refused(
        http: aiohttp.ClientSession, paired: tuple[RunningNode, RunningNode],
        clock: FakeClock) -> None:
    alice, bob = paired
    raw = sealed(bob.keys, alice, created=clock()).to_bytes()
    await refused(http, alice, raw[: len(raw) // 2], status=400, code="malformed",
                  nodes=[alice, bob])


async def test_oversized_body_with_content_length_is_refused(
        http: aiohttp.ClientSession, start_node: StartNode) -> None:
    small = await start_node("Small Org", max_body=SMALL_BODY)
    body = b"x" * (SMALL_BODY * 4)
    await refused(http, small, body, status=413, code="too_large", nodes=[small])


async def test_oversized_chunked_body_is_refused_while_reading(
        http: aiohttp.ClientSession, start_node: StartNode) -> None:
    small = await start_node("Small Org", max_body=SMALL_BODY)

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(8):
            yield b"[" * 1024

    before = small.snapshot()
    async with http.post(small.url + INBOX_PATH, data=chunks()) as response:
        assert "Content-Length" not in response.request_info.headers
        assert response.status == 413
        payload = await response.json()
    assert payload["error"] == "too_large" and payload["message"]
    assert_unchanged(before, small.snapshot())


async def test_body_of_exactly_the_limit_is_read(
        http: aiohttp.ClientSession, start_node: StartNode) -> None:
    small = await start_node("Small Org", max_body=SMALL_BODY)
    await refused(http, small, b" " * SMALL_BODY, status=400, code="malformed", nodes=[small])


async def test_wrong_recipient_is_refused(
        http: aiohttp.ClientSession, paired: tuple[RunningNode, RunningNode],
        clock: FakeClock) -> None:
    alice, bob = paired
    elsewhere = generate_keys()
    envelope = sealed(bob.keys, alice, created=clock(), recipient_id=elsewhere.node_id,
                      box_key=elsewhere.box_public)
    await refused(http, alice, envelope.to_bytes(), status=421, code="wrong_recipient",
                  nodes=[alice, bob])


@pytest.mark.parametrize("field", ["signature", "ciphertext", "id", "nonce"])
async def test_tampered_envelope_fails_the_signature(
        http: aiohttp.ClientSession, paired: tuple[RunningNode, RunningNode],
        clock: FakeClock, field: str) -> None:
    alice, bob = paired
    body = tampered(sealed(bob.keys, alice, created=clock()), field)
    await refused(http, alice, body, status=401, code="bad_signature", nodes=[alice, bob])


async def test_tampered_timestamp_fails_the_signature(
        http: aiohttp.ClientSession, paired: tuple[RunningNode, RunningNode],
        clock: FakeClock) -> None:
    alice, bob = paired
    data = sealed(bob.keys, alice, created=clock()).to_dict()
    data["created"] = clock() + 1
    await refused(http, alice, json.dumps(data).encode(), status=401, code="bad_signature",
                  nodes=[alice, bob])


async def test_validly_signed_envelope_from_a_stranger_is_refused(
        http: aiohttp.ClientSession, paired: tuple[RunningNode, RunningNode],
        clock: FakeClock) -> None:
    alice, bob = paired
    envelope = sealed(generate_keys(), alice, created=clock())
    await refused(http, alice, envelope.to_bytes(), status=403, code="unknown_peer",
                  nodes=[alice, bob])


async def test_stranger_claiming_a_peers_id_fails_the_signature(
        http: aiohttp.ClientSession, paired: tuple[RunningNode, RunningNode],
        clock: FakeClock) -> None:
    alice, bob = paired
    forged = sealed(generate_keys(), alice, created=clock()).to_dict()
    forged["sender"] = bob.node_id
    await refused(http, alice, json.dumps(forged).encode(), status=401, code="bad_signature",
                  nodes=[alice, bob])


async def test_removed_peer_is_refused(
        http: aiohttp.ClientSession, paired: tuple[RunningNode, RunningNode],
        clock: FakeClock) -> None:
    alice, bob = paired
    status, _ = await post_inbox(http, alice, sealed(bob.keys, alice, created=clock()).to_bytes())
    assert status == 200
    # Removed through the CLI, on its own connection, while the server runs.
    # `peer remove` tells Bob in its own event loop, so it runs off this one.
    result = await asyncio.to_thread(
        CliRunner().invoke, cli, ["peer", "remove", "Bob Org", "--yes", "--home",
                                  str(alice.home)])
    assert result.exit_code == 0, result.output
    envelope = sealed(bob.keys, alice, created=clock())
    await refused(http, alice, envelope.to_bytes(), status=403, code="unknown_peer",
                  nodes=[alice, bob])


async def test_ciphertext_for_the_wrong_box_key_does_not_decrypt(
        http: aiohttp.ClientSession, paired: tuple[RunningNode, RunningNode],
        clock: FakeClock) -> None:
    alice, bob = paired
    envelope = sealed(bob.keys, alice, created=clock(), box_key=generate_keys().box_public)
    await refused(http, alice, envelope.to_bytes(), status=400, code="decryption_failed",
                  nodes=[alice, bob])


@pytest.mark.parametrize("offset", [-600, 600, -301, 301], ids=lambda s: f"{s:+d}s")
async def test_message_outside_the_clock_window_is_stale(
        http: aiohttp.ClientSession, paired: tuple[RunningNode, RunningNode],
        clock: FakeClock, offset: int) -> None:
    alice, bob = paired
    envelope = sealed(bob.keys, alice, created=clock() + offset)
    await refused(http, alice, envelope.to_bytes(), status=401, code="stale_message",
                  nodes=[alice, bob])


@pytest.mark.parametrize("offset", [-300, 300], ids=lambda s: f"{s:+d}s")
async def test_message_at_the_edge_of_the_clock_window_is_accepted(
        http: aiohttp.ClientSession, paired: tuple[RunningNode, RunningNode],
        clock: FakeClock, offset: int) -> None:
    alice, bob = paired
    status, _ = await post_inbox(http, alice,
                                 sealed(bob.keys, alice, created=clock() + offset).to_bytes())
    assert status == 200


async def test_replay_stays_refused_until_it_is_stale(
        http: aiohttp.ClientSession, paired: tuple[RunningNode, RunningNode],
        clock: FakeClock) -> None:
    """Pruning old message ids must never let a replay through: it is stale by then."""
    alice, bob = paired
    raw = sealed(bob.keys, alice, created=clock() + 300).to_bytes()
    assert (await post_inbox(http, alice, raw))[0] == 200
    for step in range(12):
        clock.advance(60)
        # Another message triggers pruning of old ids at the new time.
        fresh = sealed(bob.keys, alice, created=clock()).to_bytes()
        assert (await post_inbox(http, alice, fresh))[0] == 200
        status, body = await post_inbox(http, alice, raw)
        assert status in (409, 401), (step, body)
        assert json.loads(body)["error"] in ("replayed", "stale_message")


async def test_ack_is_not_accepted_at_the_inbox(
        http: aiohttp.ClientSession, paired: tuple[RunningNode, RunningNode],
        clock: FakeClock) -> None:
    """An Ack is not a message the inbox accepts (and nothing is remembered for it)."""
    alice, bob = paired
    envelope = sealed(bob.keys, alice, created=clock(),
                      message=Ack(message_id=sealed(bob.keys, alice, created=clock()).id,
                                  status="ok"))
    await refused(http, alice, envelope.to_bytes(), status=400, code="malformed",
                  nodes=[alice, bob])


async def test_many_pings_each_acked_once(
        http: aiohttp.ClientSession, paired: tuple[RunningNode, RunningNode],
        clock: FakeClock) -> None:
    alice, bob = paired
    envelopes = [sealed(bob.keys, alice, created=clock(), message=Ping()) for _ in range(5)]
    for envelope in envelopes:
        status, body = await post_inbox(http, alice, envelope.to_bytes())
        assert status == 200, body
    assert sorted(row["message_id"] for row in alice.rows("inbox_seen")) == sorted(
        envelope.id for envelope in envelopes)


async def test_unsupported_version_is_refused(
        http: aiohttp.ClientSession, paired: tuple[RunningNode, RunningNode],
        clock: FakeClock) -> None:
    alice, bob = paired
    data = sealed(bob.keys, alice, created=clock()).to_dict()
    data["v"] = 2
    await refused(http, alice, json.dumps(data).encode(), status=400,
                  code="unsupported_version", nodes=[alice, bob])


async def test_concurrent_copies_of_one_message_are_applied_once(
        http: aiohttp.ClientSession, paired: tuple[RunningNode, RunningNode],
        clock: FakeClock) -> None:
    alice, bob = paired
    raw = sealed(bob.keys, alice, created=clock()).to_bytes()
    answers = await asyncio.gather(*(post_inbox(http, alice, raw) for _ in range(8)))
    assert sorted(status for status, _ in answers) == [200] + [409] * 7
    assert counts(alice.snapshot())["inbox_seen"] == 1


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_connection_is_usable_after_an_oversized_body(
        start_node: StartNode, clock: FakeClock, chunked: bool) -> None:
    """The unread rest of a refused body must never be parsed as the next request."""
    small = await start_node("Small Org", max_body=SMALL_BODY)
    bob = await start_node("Bob Org")
    await pair(small, bob)
    # What follows the limit looks like a request of its own.
    smuggled = b"POST /federation/v1/inbox HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}"
    payload = b" " * (SMALL_BODY + 1) + smuggled

    async def pieces() -> AsyncIterator[bytes]:
        yield payload

    connector = aiohttp.TCPConnector(limit=1)
    async with aiohttp.ClientSession(connector=connector) as one_connection:
        status, _ = await post_inbox(one_connection, small, pieces() if chunked else payload)
        assert status == 413
        ping = sealed(bob.keys, small, created=clock())
        status, body = await post_inbox(one_connection, small, ping.to_bytes())
        assert status == 200, body
    assert [row["message_id"] for row in small.rows("inbox_seen")] == [ping.id]


async def test_pings_flow_both_ways_after_pairing(
        http: aiohttp.ClientSession, paired: tuple[RunningNode, RunningNode],
        clock: FakeClock) -> None:
    alice, bob = paired
    for sender, receiver in ((bob, alice), (alice, bob)):
        ping = sealed(sender.keys, receiver, created=clock())
        status, body = await post_inbox(http, receiver, ping.to_bytes())
        assert status == 200, body
        ack = open_envelope(parse_envelope(body), recipient=sender.keys,
                            sender_box_key=receiver.keys.box_public)
        assert isinstance(ack, Ack) and ack.message_id == ping.id


async def test_forwarded_or_readdressed_envelope_is_refused(
        http: aiohttp.ClientSession, start_node: StartNode,
        paired: tuple[RunningNode, RunningNode], clock: FakeClock) -> None:
    """Bob cannot pass Alice's envelope on to Carol, as it is or re-addressed."""
    alice, bob = paired
    carol = await start_node("Carol Org")
    await pair(carol, alice)
    await pair(carol, bob)
    to_bob = sealed(alice.keys, bob, created=clock())
    await refused(http, carol, to_bob.to_bytes(), status=421, code="wrong_recipient",
                  nodes=[alice, bob, carol])
    readdressed = to_bob.to_dict()
    readdressed["recipient"] = carol.node_id
    await refused(http, carol, json.dumps(readdressed).encode(), status=401,
                  code="bad_signature", nodes=[alice, bob, carol])


@pytest.mark.parametrize(("faults", "status", "code"), [
    ({"recipient", "signature"}, 421, "wrong_recipient"),
    ({"signature", "stranger"}, 401, "bad_signature"),
    ({"stranger", "stale"}, 403, "unknown_peer"),
    ({"stale", "replayed"}, 401, "stale_message"),
    ({"stranger", "box_key"}, 403, "unknown_peer"),
], ids=lambda value: "+".join(sorted(value)) if isinstance(value, set) else None)
async def test_checks_run_in_the_protocol_order(
        http: aiohttp.ClientSession, paired: tuple[RunningNode, RunningNode],
        clock: FakeClock, faults: set[str], status: int, code: str) -> None:
    """An envelope with two faults is refused for the one checked first."""
    alice, bob = paired
    sender = generate_keys() if "stranger" in faults else bob.keys
    envelope = sealed(sender, alice, created=clock())
    if "replayed" in faults:
        assert (await post_inbox(http, alice, envelope.to_bytes()))[0] == 200
        if "stale" in faults:
            clock.advance(601)
    else:
        envelope = sealed(
            sender, alice,
            created=clock() - 600 if "stale" in faults else clock(),
            recipient_id=generate_keys().node_id if "recipient" in faults else None,
            box_key=generate_keys().box_public if "box_key" in faults else None)
    data = envelope.to_dict()
    if "signature" in faults:
        data["signature"] = flip(str(data["signature"]), 10)
    await refused(http, alice, json.dumps(data).encode(), status=status, code=code,
                  nodes=[alice, bob])



async def test_a_serving_node_checkpoints_its_wal_beside_the_database_thread(
        alice, tmp_path) -> None:
    """The server copies committed pages from the WAL into the database file on its own:
    the file alone, without its -wal, soon holds a commit far below the writer's
    autocheckpoint (4,000 pages)."""
    import shutil
    import sqlite3
    from contextlib import closing

    from tagshare.node.server import CHECKPOINT_INTERVAL
    from tagshare.node.storage import db

    conn = alice.node.conn
    with db.transaction(conn):
        conn.executemany("INSERT INTO tags (name) VALUES (?)", [(f"t{i}",) for i in range(3000)])

    def tags_in_the_file_alone() -> int:
        copy = tmp_path / "file-alone.db"
        shutil.copyfile(alice.home / "node.db", copy)  # no -wal beside it
        with closing(sqlite3.connect(copy)) as alone:
            try:
                return int(alone.execute("SELECT count(*) FROM tags").fetchone()[0])
            except sqlite3.DatabaseError:  # no schema in the file yet, or a copy torn
                return 0  # by a checkpoint writing the file meanwhile: look again

    loop = asyncio.get_running_loop()
    deadline = loop.time() + 20 * CHECKPOINT_INTERVAL
    while tags_in_the_file_alone() < 3000:
        assert loop.time() < deadline, "the WAL was never checkpointed into the file"
        await asyncio.sleep(0.05)


async def test_the_background_checkpoint_waits_while_a_reader_holds_pages_back(
        alice, monkeypatch) -> None:
    """A reader on an old snapshot (a long export) keeps committed pages from being
    copied; the checkpoint task then retries every BEHIND_INTERVAL, not in a tight loop."""
    import sqlite3
    from contextlib import closing

    from tagshare.node.server import BEHIND_INTERVAL
    from tagshare.node.storage import db

    behind: list[int] = []
    original = db.Checkpointer.run

    def counted(self: db.Checkpointer) -> int:
        behind.append(original(self))
        return behind[-1]

    monkeypatch.setattr(db.Checkpointer, "run", counted)
    conn = alice.node.conn
    with closing(sqlite3.connect(alice.home / "node.db", isolation_level=None)) as reader:
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM tags").fetchone()  # holds this snapshot
        with db.transaction(conn):
            conn.executemany("INSERT INTO tags (name) VALUES (?)",
                             [(f"r{i}",) for i in range(500)])
        await asyncio.sleep(1.5)  # the task runs at least every CHECKPOINT_INTERVAL (0.5 s)
        reader.execute("COMMIT")
    assert any(behind), "the reader never held a page back"
    assert len(behind) <= 1.5 / BEHIND_INTERVAL + 2, f"{len(behind)} checkpoints in 1.5 s"
