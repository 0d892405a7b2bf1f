"""Per-token rate limit: a token bucket per API token.

Each token may spend `burst` requests at once and earns `rate` more a second, so
a client paging as fast as it can (Parsons waits for each answer) never meets the
limit, while a runaway script gets 429 with the seconds to wait in Retry-After.
The clock is passed in (monotonic seconds), so tests need no sleeping.
"""

import math
import time
from collections.abc import Callable

RATE = 20.0  # requests a second, sustained
BURST = 50


class RateLimiter:
    def __init__(self, *, rate: float = RATE, burst: int = BURST,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.burst = float(burst)
        self.clock = clock
        self.buckets: dict[str, tuple[float, float]] = {}  # token -> (tokens, at)

    def take(self, token: str) -> int | None:
        """Spend one request of `token`; None if allowed, else seconds to wait."""
        now = self.clock()
        tokens, at = self.buckets.get(token, (self.burst, now))
        tokens = min(self.burst, tokens + (now - at) * self.rate)
        if tokens < 1:
            self.buckets[token] = (tokens, now)
            return max(1, math.ceil((1 - tokens) / self.rate))
        self.buckets[token] = (tokens - 1, now)
        return None
