"""Opening large envelopes in a second process, while the database thread applies.

The receiver has one database thread, and opening a snapshot chunk (decrypt, parse
the plaintext, check every row: about 20 ms for 5,000 people) is Python that holds
the same GIL. So an envelope of at least WORKER_MIN_BYTES is opened by one worker
process instead, while the database thread applies the one before it; a smaller one
is opened in process, where the hop would cost more than it saves (latency).

How one large envelope goes (node/server.py, node/inbox.py):

    parse thread: check (shape, recipient, signature)
    database thread: vet (known peer, clock, not seen) -> the shared Box keys
    worker: open_with_keys (decrypt, parse, check the message)
    database thread: receive_opened (peer again; apply + remember the id, one transaction)

The worker receives, with each envelope, the Box keys shared by this node and the
sender (our current keys', then those a rotation replaced): never our private keys,
and nothing is written to disk. It is started (spawn: never fork a process that holds
SQLite) at the first large envelope, which is opened in process while it starts, and
ended when the server stops (or by itself, if the server was killed). One envelope is
handed to it at a time; the others wait their turn. A worker that dies while it opens
an envelope costs that envelope a refusal as `internal` (500: its sender keeps it and
retries, docs/protocol.md 7.2) and nothing else: nothing was applied. Envelopes that
come after are opened in process until a new worker, started by the next large one, is
up.
"""

import asyncio
import logging
import multiprocessing
import os
import sys
import threading
import time
import types
from collections.abc import Iterator, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager

from tagshare.node.errors import NodeError
from tagshare.protocol import Envelope, Message, open_with_keys

log = logging.getLogger("tagshare.decoder")

# Envelopes from this size (their ciphertext's base64 text: a snapshot chunk of about
# 4,000 people or more) go to the worker. Measured (docs/performance.md, "decoding on
# the second core"): below about 100 KiB the hop saves the server nothing and delays
# the envelope; a 5,000-person chunk saves 18 ms. A full batch of live edits (1,000
# items, about 520 KiB) stays in process: through the worker, 1,000 edits took 149 ms
# to reach a subscriber against 102 ms in process (bench_incremental, quiet machine),
# and every subscriber of a granter's fan-out would start a worker of its own.
WORKER_MIN_BYTES = 1024 * 1024
# Envelopes handed to the worker at once. One: the database thread applies one envelope
# while the worker opens the next (a granter has at most 2 chunks in flight), and every
# envelope held in the hand-over costs the server its pickled copies (memory).
QUEUED = 1
PARENT_POLL = 1.0  # seconds between the worker's looks for its server


class WorkerLost(NodeError):
    """The worker process ended while it opened an envelope; nothing was applied."""


class Decoder:
    """One worker process that opens large envelopes; see the module's docstring."""

    def __init__(self, min_bytes: int | None = None, beside: Executor | None = None) -> None:
        self.min_bytes = WORKER_MIN_BYTES if min_bytes is None else min_bytes
        self.beside = beside  # where an envelope is opened when the worker is gone
        self.handed = 0  # envelopes handed to the worker, and lost to its death
        self.lost = 0
        self.busy = 0  # envelopes with the worker now (at most QUEUED)
        self._pool: ProcessPoolExecutor | None = None
        self._started: Future[int] | None = None  # the worker's pid, once it is up
        self._slots = asyncio.Semaphore(QUEUED)
        self._given_up = False

    def takes(self, envelope: Envelope) -> bool:
        """Whether the worker opens this envelope: a large one, once the worker is up
        (the first large one starts it, and is opened in process meanwhile)."""
        if self._given_up or len(envelope.ciphertext) < self.min_bytes:
            return False
        if self._pool is None or self._started is None:
            self.start()
            return False
        if not self._started.done():
            return False
        failure = self._started.exception()
        if failure is not None:  # it never started (it may have died since: a new one will)
            self._give_up(failure)
            self._forget(self._pool)
            return False
        return True

    async def open(self, envelope: Envelope, keys: Sequence[bytes]) -> tuple[Message, int]:
        """The message, and the index of the key that opened it (open_with_keys), as the
        worker opens it; RemoteProtocolError as in process, WorkerLost if it died with the
        envelope. If it had died before, the envelope is opened beside (on `beside`), and
        the next large one starts a new worker."""
        async with self._slots:
            future = self._handed(envelope, tuple(keys))
            if future is None:
                return await asyncio.get_running_loop().run_in_executor(
                    self.beside, open_with_keys, envelope, tuple(keys))
            self.busy += 1
            try:
                return await asyncio.wrap_future(future)
            except BrokenProcessPool as exc:
                self.lost += 1
                self._forget(self._pool)
                log.warning("the process opening large envelopes ended; one envelope "
                            "refused for its sender to retry, a new process starts")
                raise WorkerLost("the process opening this envelope ended; retry later") \
                    from exc
            finally:
                self.busy -= 1

    def _handed(self, envelope: Envelope, keys: tuple[bytes, ...],
                ) -> Future[tuple[Message, int]] | None:
        """The envelope handed to the worker; None if there is no worker now."""
        pool = self._pool
        if pool is None:
            return None
        try:
            future = pool.submit(open_with_keys, envelope, keys)
        except BrokenProcessPool:  # it died while idle
            self._forget(pool)
            return None
        self.handed += 1
        return future

    def worker_pid(self) -> int | None:
        """The worker's process id, once it is up."""
        started = self._started
        if started is None or not started.done() or started.exception() is not None:
            return None
        return started.result()

    def retire(self) -> None:
        """End the worker if it holds no envelope: a quiet server gives its memory back
        (node/server.py). The next large envelope starts a new one. Called on the event
        loop, like `open`, so no envelope can be handed over meanwhile."""
        if self.busy == 0:
            self.close()

    def close(self) -> None:
        """End the worker (at the server's stop)."""
        pool, self._pool, self._started = self._pool, None, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

    def start(self) -> None:
        """Start the worker (it is up once `worker_pid` says so)."""
        if self._pool is not None:
            return
        context = multiprocessing.get_context("spawn")
        try:  # a sandbox may refuse a process, a pipe or a semaphore
            pool = ProcessPoolExecutor(max_workers=1, mp_context=context,
                                       initializer=_end_with, initargs=(os.getpid(),))
            with _main_left_alone():  # the worker is spawned by this first submit
                started = pool.submit(os.getpid)
        except OSError as error:
            self._give_up(error)
            return
        self._pool, self._started = pool, started

    def _give_up(self, failure: BaseException) -> None:
        log.warning("could not start a process to open large envelopes (%s); they are "
                    "opened in process", failure)
        self._given_up = True

    def _forget(self, pool: ProcessPoolExecutor | None) -> None:
        """Drop a broken pool (once, even if several envelopes saw it break)."""
        if pool is not None and pool is self._pool:
            self._pool, self._started = None, None
            pool.shutdown(wait=False, cancel_futures=True)


@contextmanager
def _main_left_alone() -> Iterator[None]:
    """Spawn runs the parent's main script again in the child, as `__mp_main__`: under
    `tagshare serve` the whole CLI, which cost the worker 0.45 s of CPU and 34 MB (62 MB
    RSS instead of 28). The worker needs nothing of it, so while it is spawned the
    parent's main module is a blank one: nothing to run again."""
    main = sys.modules["__main__"]
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        sys.modules["__main__"] = main


def _end_with(server: int) -> None:
    """In the worker: end when the server has gone (killed, it cannot end the worker, and
    the worker would wait for envelopes forever)."""

    def watch() -> None:
        while os.getppid() == server:
            time.sleep(PARENT_POLL)
        os._exit(0)

    threading.Thread(target=watch, name="tagshare-decoder-watch", daemon=True).start()
