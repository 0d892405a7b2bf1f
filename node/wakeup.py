"""Waking a serving node the moment anyone commits to its database.

An idle node must not poll its way through the machine, yet a door knock
recorded with the CLI (another process) must reach the peers at once. So the
server listens on a unix datagram socket in Linux's abstract namespace, named
after its database file (no file in the home, nothing to clean up after a
kill -9), and every write transaction of node/storage/db.py, in any process,
sends it one byte after COMMIT. A datagram to a name nobody listens on fails
at once and is ignored: the CLI works the same with no server running.

The poke only says "look now": it carries nothing and the worker trusts
nothing from it (a local process that sends one costs the node one sync
round). Where abstract sockets do not exist, or the name is taken, the worker
falls back to its idle poll (node/sync.py IDLE_POLL).
"""

import asyncio
import hashlib
import logging
import os
import socket
import sys
from collections.abc import Callable
from functools import lru_cache

log = logging.getLogger("tagshare.wakeup")

SUPPORTED = sys.platform.startswith("linux")
_sender: socket.socket | None = None


@lru_cache(maxsize=256)
def address(db_file: str) -> bytes:
    """The abstract socket name of the node whose database is `db_file`."""
    digest = hashlib.sha256(os.path.realpath(db_file).encode()).hexdigest()[:40]
    return b"\0tagshare-wake-" + digest.encode()


def poke(db_file: str) -> None:
    """Tell the node serving `db_file`, if any, that something committed."""
    global _sender
    if not SUPPORTED or not db_file:
        return
    try:
        if _sender is None:
            _sender = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            _sender.setblocking(False)
        _sender.sendto(b"!", address(db_file))
    except OSError:
        pass  # nobody listens (no server), or its queue is full: it is awake anyway


class WakeListener:
    """The server's end: calls `wake` on the event loop when a poke arrives."""

    def __init__(self, db_file: str, wake: Callable[[], None]) -> None:
        self.wake = wake
        self.pokes = 0
        self._sock: socket.socket | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        if SUPPORTED and db_file:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            try:
                sock.bind(address(db_file))
            except OSError as exc:
                sock.close()
                log.warning("commits by other processes are noticed by polling only: %s", exc)
                return
            sock.setblocking(False)
            self._sock = sock

    @property
    def listening(self) -> bool:
        return self._sock is not None

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._sock is not None:
            self._loop = loop
            loop.add_reader(self._sock.fileno(), self._drain)

    def _drain(self) -> None:
        assert self._sock is not None
        poked = False
        while True:
            try:
                self._sock.recv(16)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                break
            poked = True
        if poked:
            self.pokes += 1
            self.wake()

    def close(self) -> None:
        if self._sock is not None:
            if self._loop is not None:
                self._loop.remove_reader(self._sock.fileno())
            self._sock.close()
            self._sock = None
