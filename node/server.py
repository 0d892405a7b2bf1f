"""The node's HTTP server: the node document, the inbox, pairing.

Handlers only read the request, hand the bytes to the inbox or pairing code,
and write the answer. Every database call runs on one dedicated thread, so
the event loop never blocks on SQLite and the connection is never used by
two threads at once.
"""

import asyncio
import json
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from aiohttp import web

from tagshare.node import clock as clocks
from tagshare.node import memory, reach
from tagshare.node.client import FederationClient
from tagshare.node.courier import INBOX_PATH, OUTBOX_PATH, Courier
from tagshare.node.decoder import Decoder, WorkerLost
from tagshare.node.handlers import HANDLERS
from tagshare.node.health import database_problem, health_answer
from tagshare.node.identity import node_document
from tagshare.node.inbox import Inbox
from tagshare.node.node import Node
from tagshare.node.oplog import RefusalLog
from tagshare.node.osdi.app import PREFIX as OSDI_PREFIX
from tagshare.node.osdi.app import create_osdi_app
from tagshare.node.outgoing import pull_answer
from tagshare.node.pairing import PAIR_PATH, accept_pair_request, check_pair_body
from tagshare.node.refusals import http_status
from tagshare.node.storage import db, search
from tagshare.node.storage.db import Checkpointer
from tagshare.node.sync import SyncWorker
from tagshare.node.telemetry import Telemetry
from tagshare.protocol import MAX_MESSAGE_BYTES, Envelope, RemoteProtocolError, TooLarge

log = logging.getLogger("tagshare.server")

NODE = web.AppKey("node", Node)
INBOX = web.AppKey("inbox", Inbox)
CLOCK: web.AppKey[clocks.Clock] = web.AppKey("clock")
DB_THREAD = web.AppKey("db_thread", ThreadPoolExecutor)
PARSE_THREAD = web.AppKey("parse_thread", ThreadPoolExecutor)
DECODER = web.AppKey("decoder", Decoder)
MAX_BODY = web.AppKey("max_body", int)
WORKER = web.AppKey("worker", SyncWorker)
TELEMETRY = web.AppKey("telemetry", Telemetry)
REFUSALS = web.AppKey("refusals", RefusalLog)

DOCUMENT_PATH = "/.well-known/tagshare"
HEALTH_PATH = "/health"
CHECKPOINT_INTERVAL = 0.5  # seconds between background WAL checkpoints while writes come
BEHIND_INTERVAL = 0.05  # ... while some committed pages are still not copied
IDLE_CHECKPOINT = 10.0  # ... and at most this long apart when nothing commits
# Release memory (page cache, malloc) once the pause between looks reaches this, that is
# after 0.5 + 1 + 2 + 4 = 7.5 s without a commit: not between edits coming seconds apart,
# whose next one would only read the pages back.
QUIET_AFTER = 8.0
# Compact the search index after bulk writes (storage/search.py), and tell origins the
# changed counts of re-shares (node/reach.py), when nothing has committed for
# 0.5 + 1 = 1.5 s: a first sync in chunks commits far more often than that.
COMPACT_QUIET = 2.0
REFUSAL_SUMMARY_INTERVAL = 5.0  # seconds between looks for a refusal summary that is due
T = TypeVar("T")
Checked = TypeVar("Checked")  # what a request body became on the parse thread


def create_app(node: Node, *, clock: clocks.Clock = clocks.system_clock,
               max_body: int = MAX_MESSAGE_BYTES, sync: bool = True, pull: bool = False,
               client: FederationClient | None = None,
               telemetry: Telemetry | None = None) -> web.Application:
    """The node's web application; with `sync`, the sync worker runs beside it."""
    app = web.Application(client_max_size=max_body, middlewares=[json_errors])
    app[NODE] = node
    app[TELEMETRY] = telemetry or Telemetry()
    app[REFUSALS] = RefusalLog()
    app[CLOCK] = clock
    app[INBOX] = Inbox(node, clock=clock, handlers=HANDLERS, puller=pull_answer)
    app[MAX_BODY] = max_body
    app[DB_THREAD] = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tagshare-db")
    app[PARSE_THREAD] = ThreadPoolExecutor(max_workers=2, thread_name_prefix="tagshare-parse")
    app[DECODER] = Decoder(beside=app[PARSE_THREAD])
    app.cleanup_ctx.append(_db_thread_ctx)
    app.cleanup_ctx.append(_checkpoint_ctx)
    app.cleanup_ctx.append(_refusal_summary_ctx)
    if sync:
        courier = Courier(node, client or FederationClient(), clock)
        app[WORKER] = SyncWorker(node, courier, executor=app[DB_THREAD], pull=pull,
                                 telemetry=app[TELEMETRY])
        app[INBOX].on_commit = app[WORKER].wake
        app.cleanup_ctx.append(_worker_ctx)
    app.router.add_get(DOCUMENT_PATH, get_document)
    app.router.add_get(HEALTH_PATH, get_health)
    app.router.add_post(INBOX_PATH, post_inbox)
    app.router.add_post(OUTBOX_PATH, post_outbox)
    app.router.add_post(PAIR_PATH, post_pair)
    app.add_subapp(OSDI_PREFIX, create_osdi_app(node, app[DB_THREAD]))
    return app


async def _db_thread_ctx(app: web.Application) -> AsyncIterator[None]:
    # Read the peers' rotated keys now, on the database thread: the parse threads verify
    # signatures with them and must never be the ones to query the database.
    await in_db_thread(app, lambda: app[NODE].peer_signing_keys)
    yield
    app[DB_THREAD].shutdown(wait=True)
    app[PARSE_THREAD].shutdown(wait=True)
    app[DECODER].close()


async def _checkpoint_ctx(app: web.Application) -> AsyncIterator[None]:
    """Checkpoint the WAL in the background, so the database thread's commits stay short;
    and purge the search index of erased people when that falls due (storage/search.py)."""
    node = app[NODE]
    checkpointer = Checkpointer(node.conn)
    thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tagshare-checkpoint")

    async def purge() -> None:
        await in_db_thread(app, lambda: db.purge_pending(node.conn))

    async def quiet() -> None:
        app[DECODER].retire()  # about 30-40 MB, started again by the next large envelope
        await in_db_thread(app, lambda: db.release_memory(node.conn))
        await asyncio.get_running_loop().run_in_executor(thread, memory.release_free_memory)

    async def settled() -> None:
        try:
            await in_db_thread(app, lambda: db.compact_pending(node.conn))
        except sqlite3.Error as error:  # e.g. the lock held too long: at the next quiet spell
            log.warning("could not compact the search index: %s", error)
        try:  # the same moment suits telling origins the new counts of our re-shares
            await in_db_thread(app, lambda: reach.refresh(node))
        except sqlite3.Error as error:
            log.warning("could not tell origins the counts of re-shares: %s", error)

    task = asyncio.create_task(_checkpoint_forever(checkpointer, thread, purge=purge,
                                                   quiet=quiet, settled=settled))
    yield
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    thread.shutdown(wait=True)
    checkpointer.close()


async def _checkpoint_forever(checkpointer: Checkpointer, thread: ThreadPoolExecutor,
                              sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                              purge: Callable[[], Awaitable[None]] | None = None,
                              quiet: Callable[[], Awaitable[None]] | None = None,
                              settled: Callable[[], Awaitable[None]] | None = None,
                              ) -> None:
    """Checkpoint again soon while pages are left behind, but never in a tight loop: a
    reader holding an old snapshot (a long export) keeps pages behind until it ends.
    When nothing commits, look ever less often (up to IDLE_CHECKPOINT): an idle node
    costs the machine almost nothing; once it has been quiet for COMPACT_QUIET or so,
    run `settled` (the server compacts the search index if bulk writes call for it and
    tells origins the changed counts of its re-shares), and once quiet for
    QUIET_AFTER, free the page cache and give freed memory back to the system (`quiet`).
    An erasure whose search-index purge was left for later is purged when it falls due,
    whether or not anything else commits."""
    loop = asyncio.get_running_loop()
    seen: int | None = None
    pause = CHECKPOINT_INTERVAL
    purge_in: float | None = None
    while True:
        version = checkpointer.committed()  # one PRAGMA: cheap enough on the event loop
        behind = 0
        if version != seen or purge_in is not None:
            seen, pause = version, CHECKPOINT_INTERVAL
            behind = await loop.run_in_executor(thread, checkpointer.run)
            if behind:
                seen = None  # not done: look again soon, even if nothing else commits
            purge_in = await _purge_when_due(checkpointer, thread, purge)
        else:
            if settled is not None and pause < COMPACT_QUIET <= pause * 2:
                await settled()  # once per quiet spell, a second or two into it
            if quiet is not None and pause < QUIET_AFTER <= pause * 2:
                await quiet()  # once per quiet spell, some seconds into it
            pause = min(pause * 2, IDLE_CHECKPOINT)
        delay = BEHIND_INTERVAL if behind else pause
        await sleep(delay if purge_in is None else min(delay, purge_in))


async def _purge_when_due(checkpointer: Checkpointer, thread: ThreadPoolExecutor,
                          purge: Callable[[], Awaitable[None]] | None) -> float | None:
    """Purge now if due; otherwise the seconds until it is (None: nothing waits)."""
    if purge is None:
        return None
    wait = await asyncio.get_running_loop().run_in_executor(thread, checkpointer.purge_wait)
    if wait is None or wait > 0:
        return wait
    try:
        await purge()
    except sqlite3.Error as error:  # e.g. the lock held too long: try again later
        log.warning("could not purge the search index of erased people: %s", error)
        return search.PURGE_GAP
    return None


async def _refusal_summary_ctx(app: web.Application) -> AsyncIterator[None]:
    """Summarize repeated refusals when their minute is over, and the rest at shutdown."""
    refusals = app[REFUSALS]

    async def summarize_forever() -> None:
        while True:
            await asyncio.sleep(REFUSAL_SUMMARY_INTERVAL)
            refusals.flush(time.monotonic())

    task = asyncio.create_task(summarize_forever())
    yield
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    refusals.flush()


async def _worker_ctx(app: web.Application) -> AsyncIterator[None]:
    """Background sync as a cleanup context: started with the app, cancelled at shutdown."""
    worker = app[WORKER]
    task = asyncio.create_task(worker.run())
    yield
    while not task.done():  # keep cancelling: one cancel can be absorbed by a timeout
        task.cancel()
        await asyncio.wait([task], timeout=0.1)
    for pending in list(worker.tasks):
        pending.cancel()
    await asyncio.gather(*worker.tasks, return_exceptions=True)
    await worker.courier.client.close()


async def in_db_thread(app: web.Application, func: Callable[[], T]) -> T:
    return await asyncio.get_running_loop().run_in_executor(app[DB_THREAD], func)


async def get_document(request: web.Request) -> web.Response:
    app = request.app
    document = node_document(app[NODE], app[CLOCK]())
    return web.json_response(document.to_dict())


async def get_health(request: web.Request) -> web.Response:
    """200 when the database takes a write, 503 with the reason when not."""
    conn = request.app[NODE].conn
    status, body = health_answer(await in_db_thread(request.app, lambda: database_problem(conn)))
    return web.json_response(body, status=status)


async def post_inbox(request: web.Request) -> web.Response:
    app = request.app
    return await _answer(request, app[INBOX].check, lambda envelope: _receive(app, envelope))


async def _receive(app: web.Application, envelope: Envelope) -> bytes:
    """A checked envelope applied on the database thread; a large one is opened by the
    decoder's worker in between (node/decoder.py), so the database thread applies
    another meanwhile."""
    inbox, decoder = app[INBOX], app[DECODER]
    if not decoder.takes(envelope):
        return await in_db_thread(app, lambda: inbox.receive(envelope))
    vetted = await in_db_thread(app, lambda: inbox.vet(envelope))
    message, key_index = await decoder.open(envelope, vetted.keys)
    return await in_db_thread(app, lambda: inbox.receive_opened(vetted, message, key_index))


async def post_outbox(request: web.Request) -> web.Response:
    inbox = request.app[INBOX]
    return await _answer(request, inbox.check, _on_db_thread(request.app, inbox.serve_pull))


async def post_pair(request: web.Request) -> web.Response:
    app = request.app
    return await _answer(
        request, lambda raw: check_pair_body(app[NODE], raw, app[CLOCK]()),
        _on_db_thread(app, lambda body: accept_pair_request(app[NODE], body,
                                                             source=request.remote or "")))


def _on_db_thread(app: web.Application, work: Callable[[Checked], bytes],
                  ) -> Callable[[Checked], Awaitable[bytes]]:
    return lambda checked: in_db_thread(app, lambda: work(checked))


async def _answer(request: web.Request, check: Callable[[bytes], Checked],
                  work: Callable[[Checked], Awaitable[bytes]]) -> web.Response:
    """Read the body (size-capped); `check` it on a parse thread (shape and signature: no
    database, so a big or hostile body holds up neither the event loop nor the database
    thread); `work` on what passed (on the database thread); answer its bytes. A refusal
    becomes its JSON error and status; a lost decoder worker, `internal` (retry later)."""
    app = request.app
    try:
        raw = await read_limited(request, app[MAX_BODY])
        checked = await asyncio.get_running_loop().run_in_executor(app[PARSE_THREAD], check, raw)
        answer = await work(checked)
    except WorkerLost as lost:
        request.app[TELEMETRY].request("internal")
        return error_response(500, "internal", str(lost))
    except RemoteProtocolError as error:
        request.app[TELEMETRY].request(error.code)
        request.app[REFUSALS].refused(error.code, http_status(error), error.message)
        return refusal(error)
    request.app[TELEMETRY].request("ok")
    return web.Response(body=answer, content_type="application/json")


async def read_limited(request: web.Request, limit: int) -> bytes:
    """The body, refusing more than `limit` bytes by Content-Length or while reading."""
    if request.content_length is not None and request.content_length > limit:
        raise TooLarge(f"body of {request.content_length} bytes exceeds {limit}")
    chunks: list[bytes] = []
    total = 0
    async for chunk in request.content.iter_chunked(64 * 1024):
        total += len(chunk)
        if total > limit:
            raise TooLarge(f"body exceeds {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def refusal(error: RemoteProtocolError) -> web.Response:
    status = http_status(error)
    # Info level gets one line per request (the access log); the reason goes to debug.
    log.debug("refused: %s (%s): %s", error.code, status, error.message)
    return error_response(status, error.code, error.message)


def error_response(status: int, code: str, message: str,
                   headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(status=status, headers=headers, content_type="application/json",
                        text=json.dumps({"error": code, "message": message}))


HTTP_ERROR_CODES = {400: "malformed", 404: "not_found", 405: "method_not_allowed", 413: "too_large"}


@web.middleware
async def json_errors(request: web.Request,
                      handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
                      ) -> web.StreamResponse:
    """Every refusal is JSON (docs/protocol.md 7.2): an unknown path, a wrong method, and
    our own fault (500 `internal`, logged with its traceback) too, not aiohttp's text."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = HTTP_ERROR_CODES.get(exc.status, "http_error")
        allow = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
        return error_response(exc.status, code, exc.reason, allow)
    except Exception:
        log.exception("internal error answering %s %s", request.method, request.path)
        return error_response(500, "internal", "the node failed to answer; retry later")
