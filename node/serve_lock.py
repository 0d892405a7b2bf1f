"""One `tagshare serve` per home, and no `restore` under it.

The pid file (`serve.pid`) tells people and scripts which process serves; it
cannot be what keeps a second server out: a second `serve` that exited
deleted the first one's pid file, and `restore` then ran under the live
server. What does keep it out is an exclusive `flock` on `serve.lock` in the
home, taken before anything else and held for the life of `serve` (and for
the length of a `restore`). The kernel releases it when the process ends,
however it ends (kill -9 included), so a lock is never stale.
"""

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from tagshare.node.errors import NodeError

LOCK_FILE = "serve.lock"


@contextlib.contextmanager
def holding_home(home: Path, doing: str) -> Iterator[None]:
    """Hold the home's lock while `doing` (`serve` or `restore`) runs; NodeError, at once,
    if another process holds it."""
    fd = os.open(home / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode("ascii", "replace").strip() or "?"
            raise NodeError(f"cannot {doing}: `tagshare serve` (or a restore) is running on "
                            f"{home} (pid {holder}): stop it first") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # closing the only descriptor releases the lock
