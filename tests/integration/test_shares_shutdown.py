"""Stopping a node whose sync worker was just woken: the worker must stop.

On Python 3.11 `asyncio.wait_for` swallows a cancellation that arrives in
the same loop iteration as the completion of what it waits for. A worker
that waited for its wake-up event with `wait_for` went on looping if the
server's shutdown cancelled it just as a commit woke it, and shutdown waited
forever; it now waits under `asyncio.timeout`.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest
from shares_helpers import Org, three_orgs, worker_task


def _waiting(task: asyncio.Task[None]) -> bool:
    """Is the worker's innermost awaited coroutine its wait for the wake-up event?"""
    awaited = task.get_coro().cr_await  # type: ignore[union-attr]
    while getattr(awaited, "__qualname__", "") == "SyncWorker._serve":
        awaited = awaited.cr_await  # type: ignore[union-attr]
    return getattr(awaited, "__qualname__", "") in ("wait_for", "Event.wait")


async def _wake_and_cancel_together(org: Org) -> asyncio.Task[None]:
    """Catch the worker as it starts its 50 ms wake-up wait, then wake and cancel it at once."""
    task = worker_task(org)
    assert task is not None
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    # Out of the wait (a delivery round: an idle worker only looks for commits between
    # rounds, so start one), then just back in it.
    org.worker._event.set()
    for want in (False, True):
        while _waiting(task) != want:
            if loop.time() > deadline:
                pytest.fail("the worker never went back to waiting for its wake-up event")
            await asyncio.sleep(0)
    org.worker._event.set()  # what wake() does after a commit
    await asyncio.sleep(0)  # the event's waiter completes in this iteration...
    task.cancel()  # ...and the shutdown cancels the worker in the same one
    await asyncio.wait({task}, timeout=1)
    return task


async def test_a_worker_woken_as_it_is_cancelled_stops(tmp_path: Path) -> None:
    async with three_orgs(tmp_path) as trio:
        tasks = [await _wake_and_cancel_together(org) for org in trio.orgs]
        try:
            assert [task.done() for task in tasks] == [True, True, True], \
                "a worker ignored its cancellation"
        finally:
            for task in tasks:  # a second cancel stops it, so teardown does not hang
                with contextlib.suppress(asyncio.CancelledError):
                    task.cancel()
                    await asyncio.wait({task}, timeout=2)
