"""Time and randomness for the node (protocol/ takes both as arguments)."""

import os
import time
from collections.abc import Callable

Clock = Callable[[], int]


def system_clock() -> int:
    """Unix time in whole seconds."""
    return int(time.time())


def random_bytes(count: int) -> bytes:
    return os.urandom(count)
