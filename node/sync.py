"""The sync worker: delivers what each peer is owed, and pulls where nobody can push.

How it runs: it sleeps until woken. Every write transaction, in this process or
another (the CLI), pokes it after COMMIT (node/wakeup.py); as a backstop it also
asks SQLite whether anything committed (`PRAGMA data_version` on a read-only
connection of its own, cheap enough to ask on the event loop), every WAKE_INTERVAL
right after activity, backing off to IDLE_POLL when nothing happens, so an idle
node costs the machine almost nothing. A peer backing off is retried when its
time comes, without a timer per peer. Then it asks
the outbox, through an index, which peers are owed something, and starts one
delivery per peer that is not backing off. A delivery sends queued control
messages in order, then batches of every active share; each batch is settled
only by the peer's signed ack. A failure puts the in-flight rows back and
backs the peer off exponentially, with jitter, persisted in `delivery`; any
success resets it. One retry rule (docs/protocol.md 7.2): no answer, 401,
408, 429 and every 5xx are retried with that backoff; any other refusal (a
4xx that will not change by itself) is parked (retried only after the
longest delay) and shown in `status`. Only a peer's matching, successful ack
settles anything. A peer whose document says `pull_only` is never pushed to:
it gets everything when it pulls. Only a node that is itself pull-only pulls,
and only from peers that can be reached.
"""

import asyncio
import contextlib
import json
import logging
import random
import sqlite3
import time
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import TypeVar

from tagshare.node import normalize
from tagshare.node.client import PeerCertificateMismatch, PeerRefused, PeerUnreachable
from tagshare.node.courier import Courier
from tagshare.node.errors import NodeError
from tagshare.node.handlers import HANDLERS
from tagshare.node.keys import forget_previous_keys
from tagshare.node.node import Node
from tagshare.node.oplog import log_delivery_failure
from tagshare.node.outgoing import BATCH_ITEMS, build_batch, settle_batch
from tagshare.node.peer_text import peer_text
from tagshare.node.peers import pulls_only, takes_snapshots
from tagshare.node.repin import refresh_pin
from tagshare.node.storage import db, outbox
from tagshare.node.storage import peers as peer_store
from tagshare.node.storage import shares as store
from tagshare.node.storage.db import CommitWatch, file_of
from tagshare.node.telemetry import Telemetry, delivery_result, peer_label
from tagshare.node.wakeup import WakeListener
from tagshare.protocol import (
    KeyRotate,
    Message,
    OutboxAck,
    OutboxItems,
    ProtocolError,
    ShareBatch,
    message_from_dict,
)

log = logging.getLogger("tagshare.sync")
T = TypeVar("T")

WAKE_INTERVAL = 0.02  # seconds between looks for commits right after activity ...
IDLE_POLL = 1.0  # ... doubling up to this when idle (pokes wake it at once anyway)
IDLE_ROUND = 30.0  # a round at least this often, whatever happens (a safety net)
PULL_INTERVAL = 1.0
FIRST_RETRY = 2.0
MAX_RETRY = 3600.0
RETRYABLE_STATUSES = (401, 408, 429)  # ... and every 5xx: see `retryable`
PIPELINE = 4  # batches in flight per share
IN_FLIGHT_LIMIT = 8  # batches in flight across all peers: bounds memory when fanning out
CHUNKS_IN_FLIGHT = 2  # snapshot chunks (node/snapshot.py) in flight across all peers


def backoff_delay(attempts: int, rand: Callable[[], float] = random.random) -> float:
    """2 s, 4 s, 8 s ... capped at an hour, each +-25% so peers do not retry in step."""
    base = min(MAX_RETRY, FIRST_RETRY * 2 ** max(attempts - 1, 0))
    return float(base * (0.75 + rand() / 2))


def retryable(status: int) -> bool:
    """A refusal that may go away by itself (clock skew, timeout, load, the peer's own
    fault) is retried with backoff; any other is parked until the operator looks."""
    return status in RETRYABLE_STATUSES or status >= 500


@dataclass
class RoundReport:
    delivered: dict[str, int] = field(default_factory=dict)
    pulled: dict[str, int] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


class SyncWorker:
    def __init__(self, node: Node, courier: Courier, *, executor: ThreadPoolExecutor,
                 pull: bool, clock: Callable[[], float] = time.time,
                 telemetry: Telemetry | None = None) -> None:
        self.node = node
        self.telemetry = telemetry or Telemetry()
        self.courier = courier
        self.executor = executor
        self.pull_mode = pull
        self.clock = clock
        self.busy: set[str] = set()
        self.in_flight = asyncio.Semaphore(IN_FLIGHT_LIMIT)
        self.chunks_in_flight = asyncio.Semaphore(CHUNKS_IN_FLIGHT)
        self.tasks: set[asyncio.Task[None]] = set()
        self._event = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.retry_at = float("inf")  # when the first peer backing off may be tried again
        self.rounds = 0  # delivery rounds run, and ...
        self.waits: list[float] = []  # ... the last pauses between looks (for tests)

    async def db(self, func: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self.executor, func)

    def wake(self) -> None:
        """Safe to call from any thread (the server's DB thread calls it after commits)."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._event.set)

    async def run(self) -> None:
        """Serve forever (cancel to stop)."""
        self._loop = asyncio.get_running_loop()
        await self.db(lambda: _in_tx(self.node, outbox.release_inflight))
        watch = CommitWatch(self.node.conn)
        listener = WakeListener(file_of(self.node.conn), self.wake)
        listener.start(self._loop)
        try:
            await self._serve(watch)
        finally:
            listener.close()
            watch.close()

    async def _serve(self, watch: CommitWatch) -> None:
        seen_version: int | None = None
        last_round = last_pull = 0.0
        pause = WAKE_INTERVAL
        while True:
            version = watch.version()
            now = time.monotonic()
            if (version != seen_version or self._event.is_set() or now - last_round > IDLE_ROUND
                    or self.clock() >= self.retry_at):
                seen_version, last_round = version, now
                self._event.clear()
                await self.start_deliveries()
                pause = WAKE_INTERVAL
            else:
                pause = min(pause * 2, IDLE_POLL)
            if self.pull_mode:
                if now - last_pull > PULL_INTERVAL:
                    last_pull = now
                    self._spawn("pull", self.pull_all)
                pause = min(pause, PULL_INTERVAL)
            self.waits = [*self.waits[-31:], pause]
            # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancel that
            # lands as the event fires, and shutdown would then wait forever.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(pause):
                    await self._event.wait()

    def _spawn(self, key: str, work: Callable[[], Coroutine[None, None, None]]) -> None:
        """Run `work` in the background unless the same key is already running."""
        if key in self.busy:
            return
        self.busy.add(key)

        async def runner() -> None:
            try:
                await work()
            finally:
                self.busy.discard(key)
                self._event.set()

        task = asyncio.ensure_future(runner())
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def start_deliveries(self, report: RoundReport | None = None) -> None:
        """Start a delivery to every peer owed something that is not backing off, and
        note when the first of those backing off may be tried again."""
        now = self.clock()
        self.rounds += 1

        def look() -> tuple[list[str], dict[str, float]]:
            return (outbox.peers_with_work(self.node.conn),
                    outbox.retry_times(self.node.conn, now))

        owed, waiting = await self.db(look)
        retry_at = float("inf")
        for peer_id in owed:
            if peer_id in waiting:
                retry_at = min(retry_at, waiting[peer_id])
            elif peer_id not in self.busy:  # a running delivery picks new work up itself
                self._spawn(peer_id, partial(self.deliver, peer_id, report))
        self.retry_at = retry_at

    async def run_once(self, only_peer: str | None = None) -> RoundReport:
        """`tagshare sync`: deliver everything owed and pull once, ignoring backoff."""
        report = RoundReport()
        peers = await self.db(lambda: outbox.peers_with_work(self.node.conn))
        await asyncio.gather(*(self.deliver(p, report) for p in peers
                               if only_peer in (None, p)))
        if self.pull_mode:
            await self.pull_all(report, only_peer)
        return report

    async def deliver(self, peer_id: str, report: RoundReport | None = None) -> None:
        peer = await self.db(lambda: peer_store.active_peer(self.node.conn, peer_id))
        if peer is None or pulls_only(peer):  # nobody can reach it: it pulls what it is owed
            return
        sent = 0
        started = time.monotonic()
        failure: Exception | None = None
        try:
            sent += await self._send_control(peer)
            for share in await self.db(lambda: store.active_outgoing(self.node.conn, peer_id)):
                if not share["pull"]:
                    sent += await self._send_batches(peer, share["id"], takes_snapshots(peer))
            await self.db(lambda: _in_tx(self.node, outbox.record_success, peer_id,
                                         normalize.now_iso()))
            if report is not None:
                report.delivered[peer_id] = sent
        except (NodeError, ProtocolError) as exc:
            failure = exc
            await self._failed(peer, exc)
            if isinstance(exc, PeerCertificateMismatch):
                await refresh_pin(self.node, peer, self.courier.client, int(self.clock()),
                                  self.db)
            if report is not None:
                report.errors[peer_id] = peer_text(exc)
        self.telemetry.delivery(peer_label(peer), delivery_result(failure),
                                time.monotonic() - started)

    async def _send_control(self, peer: sqlite3.Row) -> int:
        sent = 0
        for row in await self.db(lambda: outbox.queued_messages(self.node.conn, peer["node_id"])):
            message = message_from_dict(row["type"], json.loads(row["body"]))
            rotating = isinstance(message, KeyRotate)
            # The peer knows only the old keys until it has read this very message.
            keys = self.node.key_state.previous if rotating else None
            await self.courier.send(peer, message, keys)
            await self.db(partial(_in_tx, self.node, outbox.drop_message, row["id"],
                                  peer=peer["node_id"]))
            if rotating:
                await self.db(partial(forget_previous_keys, self.node))
            sent += 1
        return sent

    async def _send_batches(self, peer: sqlite3.Row, share_id: str, snapshots: bool) -> int:
        """Send every ready batch of a share, up to PIPELINE of them in flight at once
        (snapshot chunks, to a peer whose document says it takes them, only while the
        share owes more than a batch's worth and one of CHUNKS_IN_FLIGHT is free)."""
        sent = 0
        in_flight: set[asyncio.Task[int]] = set()
        try:
            while True:
                slots = await self._batch_slots(share_id, snapshots)
                try:
                    batch = await self.db(partial(build_batch, self.node, share_id,
                                                  snapshots=len(slots) > 1))
                except BaseException:
                    _release(slots)
                    raise
                if batch is None:
                    _release(slots)
                    break
                task = asyncio.create_task(self._send_batch(peer, share_id, batch))
                task.add_done_callback(partial(_released, slots))  # even if cancelled
                in_flight.add(task)
                if len(in_flight) >= PIPELINE:
                    done, in_flight = await asyncio.wait(
                        in_flight, return_when=asyncio.FIRST_COMPLETED)
                    sent += sum(task.result() for task in done)
            sent += sum(await asyncio.gather(*in_flight))
            in_flight = set()
        finally:
            for task in in_flight:
                task.cancel()
        return sent

    async def _batch_slots(self, share_id: str,
                           snapshots: bool) -> tuple[asyncio.Semaphore, ...]:
        """Wait for room to build the next batch (before building: bounds batches in
        memory); a chunk holds a chunk slot too."""
        await self.in_flight.acquire()
        try:
            if snapshots and await self.db(partial(outbox.has_ready, self.node.conn, share_id,
                                                   more_than=BATCH_ITEMS)):
                await self.chunks_in_flight.acquire()
                return (self.in_flight, self.chunks_in_flight)
        except BaseException:
            self.in_flight.release()
            raise
        return (self.in_flight,)

    async def _send_batch(self, peer: sqlite3.Row, share_id: str, batch: ShareBatch) -> int:
        await self.courier.send(peer, batch)
        await self.db(partial(_in_tx, self.node, settle_batch, share_id, batch.seq,
                              normalize.now_iso()))
        return len(batch.uuids())

    async def _failed(self, peer: sqlite3.Row, exc: Exception) -> None:
        peer_id = peer["node_id"]
        parked = isinstance(exc, PeerRefused) and not retryable(exc.status)
        unreachable = isinstance(exc, PeerUnreachable)
        log_delivery_failure(peer, exc)

        def record() -> None:
            with db.transaction(self.node.conn) as conn:
                for share in store.active_outgoing(conn, peer_id):
                    outbox.release_inflight(conn, share["id"])
                    store.note_error(conn, share["id"], peer_text(exc))
                state = outbox.delivery_state(conn, peer_id)
                attempts = (state["attempts"] if state else 0) + 1
                delay = MAX_RETRY if parked else backoff_delay(attempts)
                outbox.record_failure(conn, peer_id, error=peer_text(exc),
                                     next_attempt=self.clock() + delay,
                                     parked=parked and not unreachable,
                                     at=normalize.now_iso())

        await self.db(record)

    async def pull_all(self, report: RoundReport | None = None,
                       only_peer: str | None = None) -> None:
        granters = await self.db(lambda: [row["node_id"] for row in
                                          peer_store.list_peers(self.node.conn)
                                          if not pulls_only(row)])
        for peer_id in granters:
            if only_peer in (None, peer_id):
                await self.pull_from(peer_id, report)

    async def pull_from(self, peer_id: str, report: RoundReport | None = None) -> None:
        peer = await self.db(lambda: peer_store.active_peer(self.node.conn, peer_id))
        if peer is None:
            return
        total = 0
        try:
            for _ in range(10_000):
                items = await self.courier.pull(peer)
                if not items.entries:
                    break
                ack = await self.db(partial(apply_pulled, self.node, peer, items))
                # Re-read the peer: a pulled key.rotate may have changed its keys.
                fresh = await self.db(lambda: peer_store.active_peer(self.node.conn, peer_id))
                if fresh is None:
                    break
                peer = fresh
                await self.courier.send(peer, ack)
                total += len(items.entries)
                if not ack.batches:
                    break
        except (NodeError, ProtocolError) as exc:
            log_delivery_failure(peer, exc, "pull")
            if report is not None:
                report.errors[peer_id] = peer_text(exc)
        if report is not None:
            report.pulled[peer_id] = total


def apply_pulled(node: Node, peer: sqlite3.Row, items: OutboxItems) -> OutboxAck:
    """Apply pulled messages as if each had come to the inbox, in one transaction."""
    refs: list[int] = []
    batches: list[tuple[str, int]] = []
    with db.transaction(node.conn):
        for entry in items.entries:
            message: Message = entry.message
            HANDLERS[message.TYPE](node, peer, message)
            if isinstance(message, ShareBatch):
                batches.append((message.share, message.seq))
            elif entry.ref:
                refs.append(entry.ref)
    return OutboxAck(refs=tuple(refs), batches=tuple(batches))


def _release(slots: tuple[asyncio.Semaphore, ...]) -> None:
    for slot in slots:
        slot.release()


def _released(slots: tuple[asyncio.Semaphore, ...], _task: object) -> None:
    _release(slots)


def _in_tx(node: Node, func: Callable[..., object], *args: object, **kwargs: object) -> None:
    with db.transaction(node.conn) as conn:
        func(conn, *args, **kwargs)
