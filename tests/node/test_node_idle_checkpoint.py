"""The background checkpoint looks ever less often while nothing commits (counted with an
injected sleep, never timed), and checkpoints again as soon as something does."""

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tagshare.node.server import (
    BEHIND_INTERVAL,
    CHECKPOINT_INTERVAL,
    COMPACT_QUIET,
    IDLE_CHECKPOINT,
    QUIET_AFTER,
    _checkpoint_forever,
)


class Stop(Exception):
    pass


class FakeCheckpointer:
    """Commits arrive as a list of data_version values, one per look."""

    def __init__(self, versions: list[int], behind: int = 0) -> None:
        self.versions = versions
        self.behind = behind
        self.runs = 0

    def committed(self) -> int:
        return self.versions.pop(0) if len(self.versions) > 1 else self.versions[0]

    def run(self) -> int:
        self.runs += 1
        return self.behind


async def _pauses(checkpointer: FakeCheckpointer, looks: int,
                  pauses: list[float] | None = None, **hooks: Any) -> list[float]:
    """Run the loop for `looks` sleeps (with the purge/quiet `hooks`); the pauses, also
    appended to `pauses` as they come when it is given."""
    pauses = [] if pauses is None else pauses

    async def sleep(seconds: float) -> None:
        pauses.append(seconds)
        if len(pauses) >= looks:
            raise Stop

    with ThreadPoolExecutor(max_workers=1) as thread, pytest.raises(Stop):
        await _checkpoint_forever(checkpointer, thread, sleep,  # type: ignore[arg-type]
                                  **hooks)
    return pauses


async def test_an_idle_node_checkpoints_once_then_backs_off() -> None:
    checkpointer = FakeCheckpointer([7])  # nothing ever commits
    pauses = await _pauses(checkpointer, 12)
    assert checkpointer.runs == 1
    assert pauses[:5] == [CHECKPOINT_INTERVAL * 2 ** n for n in range(5)]
    assert pauses[-1] == IDLE_CHECKPOINT and max(pauses) == IDLE_CHECKPOINT


async def test_a_commit_brings_the_checkpoint_back_at_once() -> None:
    checkpointer = FakeCheckpointer([1, 1, 1, 1, 2, 2])
    pauses = await _pauses(checkpointer, 6)
    assert checkpointer.runs == 2  # the first look, and the one after the commit
    assert pauses[4] == CHECKPOINT_INTERVAL


async def test_pages_held_back_are_retried_soon_even_with_no_new_commit() -> None:
    checkpointer = FakeCheckpointer([1], behind=5)
    pauses = await _pauses(checkpointer, 4)
    assert checkpointer.runs == 4
    assert pauses == [BEHIND_INTERVAL] * 4


async def test_a_due_purge_is_waited_for_and_run_once_with_no_new_commit() -> None:
    checkpointer = FakeCheckpointer([3])
    waits = [1.5, 0.0, None]
    purges: list[int] = []

    def purge_wait() -> float | None:
        return waits.pop(0) if len(waits) > 1 else waits[0]

    async def purge() -> None:
        purges.append(1)

    checkpointer.purge_wait = purge_wait  # type: ignore[attr-defined]
    pauses = await _pauses(checkpointer, 4, purge=purge)
    assert purges == [1]
    assert pauses[0] == min(CHECKPOINT_INTERVAL, 1.5)
    assert checkpointer.runs == 2  # the first look, and the one when it fell due
    assert pauses[2] == 2 * pauses[1]  # then idle again: backing off


async def test_memory_is_released_once_per_quiet_spell_not_between_close_commits() -> None:
    # A commit at the 3rd look (a second after the start), then at the 12th, then quiet.
    checkpointer = FakeCheckpointer([1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3])
    quiets: list[float] = []
    pauses: list[float] = []

    async def quiet() -> None:
        quiets.append(sum(pauses))  # seconds slept so far

    await _pauses(checkpointer, 20, pauses, quiet=quiet)
    assert len(quiets) == 2  # none in the second between the start and the first commit
    assert pauses[:2] == [CHECKPOINT_INTERVAL, CHECKPOINT_INTERVAL * 2]
    assert all(later - earlier >= QUIET_AFTER - CHECKPOINT_INTERVAL
               for earlier, later in zip(quiets, quiets[1:], strict=False))


async def test_the_search_index_is_compacted_once_per_quiet_spell_before_memory_goes() -> None:
    # Commits at every look for a while (a first sync in chunks), then quiet.
    checkpointer = FakeCheckpointer([1, 2, 3, 4, 5, 6, 6])
    events: list[tuple[str, float]] = []
    pauses: list[float] = []

    async def compact() -> None:
        events.append(("compact", sum(pauses)))

    async def quiet() -> None:
        events.append(("quiet", sum(pauses)))

    await _pauses(checkpointer, 14, pauses, settled=compact, quiet=quiet)
    assert [name for name, _ in events] == ["compact", "quiet"]
    started = sum(pauses[:6])  # the last commit was seen at the 7th look
    assert events[0][1] - started >= COMPACT_QUIET - 2 * CHECKPOINT_INTERVAL
    assert events[0][1] < events[1][1]
