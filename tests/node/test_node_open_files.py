"""`serve` raises the soft limit on open files towards the hard one, never lowers it."""

import resource

from tagshare.node.service import OPEN_FILES_WANTED, raise_open_files_limit


class Limits:
    def __init__(self, soft: int, hard: int) -> None:
        self.soft, self.hard = soft, hard
        self.calls: list[tuple[int, int]] = []

    def get(self, which: int) -> tuple[int, int]:
        assert which == resource.RLIMIT_NOFILE
        return self.soft, self.hard

    def set(self, which: int, limits: tuple[int, int]) -> None:
        self.calls.append(limits)
        self.soft = limits[0]


def test_a_low_soft_limit_is_raised() -> None:
    limits = Limits(1024, 1_048_576)
    assert raise_open_files_limit(limits.get, limits.set) == OPEN_FILES_WANTED
    assert limits.calls == [(OPEN_FILES_WANTED, 1_048_576)]


def test_it_stops_at_the_hard_limit() -> None:
    limits = Limits(256, 4096)
    assert raise_open_files_limit(limits.get, limits.set) == 4096
    assert limits.calls == [(4096, 4096)]


def test_a_high_soft_limit_is_left_alone() -> None:
    limits = Limits(65_536, 65_536)
    assert raise_open_files_limit(limits.get, limits.set) == 65_536
    assert limits.calls == []


def test_a_refusal_keeps_the_old_limit() -> None:
    def refuse(which: int, limits: tuple[int, int]) -> None:
        raise ValueError("not allowed")

    assert raise_open_files_limit(lambda which: (1024, 4096), refuse) == 1024
