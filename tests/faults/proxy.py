"""A fault-injecting HTTP/1.1 proxy on 127.0.0.1, for one upstream node.

Each request from the sender is read whole (head plus Content-Length body);
then the proxy draws a fault, seeded, and either

- pass      forwards it and relays the whole response;
- drop      closes the sender's connection without forwarding anything;
- delay     waits 50-400 ms, then forwards and relays normally;
- truncate  forwards it, reads the whole response, relays only part of it
            (a cut inside the head or the body), then closes;
- cut       forwards it and closes the sender's connection as soon as the
            first byte of the response arrives: the receiver has committed,
            the sender never reads the ack.

Every request gets its own upstream connection, so a fault never leaks into
the next request. `ProxyThread` runs the proxy's event loop in a thread, so
synchronous tests (driving `tagshare serve` subprocesses) can use it.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import threading
from collections import Counter
from dataclasses import dataclass, field

MODES = ("pass", "drop", "delay", "truncate", "cut")
HEAD_LIMIT = 64 * 1024


@dataclass
class FaultPlan:
    """Probabilities of each fault; the rest of the time the request passes."""

    drop: float = 0.0
    delay: float = 0.0
    truncate: float = 0.0
    cut: float = 0.0
    seed: int = 0
    rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def draw(self) -> str:
        roll = self.rng.random()
        for mode in ("drop", "delay", "truncate", "cut"):
            chance = float(getattr(self, mode))
            if roll < chance:
                return mode
            roll -= chance
        return "pass"


async def read_message(reader: asyncio.StreamReader) -> tuple[bytes, bytes] | None:
    """One HTTP message: (head, body), or None at a clean end of stream."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if exc.partial:
            raise ConnectionError("stream ended inside a message head") from None
        return None
    except asyncio.LimitOverrunError:
        raise ConnectionError("message head too long") from None
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    body = await reader.readexactly(length) if length else b""
    return head, body


class FaultProxy:
    def __init__(self, upstream_port: int, plan: FaultPlan, host: str = "127.0.0.1") -> None:
        self.host = host
        self.upstream_port = upstream_port
        self.plan = plan
        self.counts: Counter[str] = Counter()
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self, port: int = 0) -> int:
        self.server = await asyncio.start_server(self._client, self.host, port,
                                                 limit=HEAD_LIMIT)
        self.port = int(self.server.sockets[0].getsockname()[1])
        return self.port

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            with contextlib.suppress(Exception):
                await self.server.wait_closed()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                request = await read_message(reader)
                if request is None:
                    break
                mode = self.plan.draw()
                self.counts[mode] += 1
                if not await self._one(mode, request, writer):
                    break
        except (ConnectionError, asyncio.IncompleteReadError, ValueError, OSError):
            self.counts["client_error"] += 1
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _one(self, mode: str, request: tuple[bytes, bytes],
                   writer: asyncio.StreamWriter) -> bool:
        """Handle one request; False once the sender's connection must close."""
        if mode == "drop":
            return False
        if mode == "delay":
            await asyncio.sleep(self.plan.rng.uniform(0.05, 0.4))
        try:
            up_reader, up_writer = await asyncio.open_connection(
                self.host, self.upstream_port, limit=HEAD_LIMIT)
        except OSError:
            self.counts["upstream_down"] += 1
            return False
        try:
            up_writer.write(request[0] + request[1])
            await up_writer.drain()
            if mode == "cut":
                await up_reader.readexactly(1)  # the receiver has answered, so it committed
                return False
            response = await read_message(up_reader)
            if response is None:
                return False
            raw = response[0] + response[1]
            if mode == "truncate":
                writer.write(raw[: self.plan.rng.randrange(1, len(raw))])
                await writer.drain()
                return False
            writer.write(raw)
            await writer.drain()
            return True
        except (ConnectionError, asyncio.IncompleteReadError, OSError):
            self.counts["upstream_error"] += 1
            return False
        finally:
            up_writer.close()
            with contextlib.suppress(Exception):
                await up_writer.wait_closed()


class ProxyThread:
    """A FaultProxy served from its own event loop in a daemon thread."""

    def __init__(self, upstream_port: int, plan: FaultPlan) -> None:
        self.proxy = FaultProxy(upstream_port, plan)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> ProxyThread:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.proxy.start(), self.loop).result(10)
        return self

    def __exit__(self, *_exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.proxy.close(), self.loop).result(10)

        async def cancel_all() -> None:
            asyncio.get_running_loop().set_exception_handler(lambda _loop, _context: None)
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(cancel_all(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()

    @property
    def port(self) -> int:
        return self.proxy.port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.proxy.port}"

    @property
    def counts(self) -> dict[str, int]:
        return dict(self.proxy.counts)
