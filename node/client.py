"""Talking to other nodes over HTTP.

`Transport` is the seam: the real one uses aiohttp with timeouts; a test may
hand the client another (for example one that injects faults). Integration
tests use the real thing.
"""

import json
from typing import Protocol

import aiohttp

from node.errors import NodeError
from node.peer_text import peer_text
from protocol import MAX_MESSAGE_BYTES, NodeDocument, ProtocolError, parse_document

REQUEST_TIMEOUT_SECONDS = 30
JSON_HEADERS = {"Content-Type": "application/json"}
# An error answer is a short JSON object: no more of one is ever read (a hostile peer
# answered 2 MB of text).
MAX_ERROR_BYTES = 16 * 1024


class PeerUnreachable(NodeError):
    """The peer did not answer (connection refused, timeout, reset)."""


class PeerRefused(NodeError):
    """The peer answered with an error status."""

    def __init__(self, url: str, status: int, code: str, message: str) -> None:
        super().__init__(f"{url} refused the request: {code} (HTTP {status}): {message}")
        self.status = status
        self.code = code
        self.peer_message = message


class Transport(Protocol):
    async def get(self, url: str) -> tuple[int, bytes]: ...

    async def post(self, url: str, body: bytes) -> tuple[int, bytes]: ...

    async def close(self) -> None: ...


class HttpTransport:
    """aiohttp client with a total timeout and a cap on response size."""

    def __init__(self, timeout: float = REQUEST_TIMEOUT_SECONDS) -> None:
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self._session

    async def get(self, url: str) -> tuple[int, bytes]:
        return await self._request("GET", url, None)

    async def post(self, url: str, body: bytes) -> tuple[int, bytes]:
        return await self._request("POST", url, body)

    async def _request(self, method: str, url: str, body: bytes | None) -> tuple[int, bytes]:
        try:
            async with self._client().request(method, url, data=body,
                                              headers=JSON_HEADERS) as response:
                if response.status != 200:
                    return response.status, await _read_error(response)
                return response.status, await _read_limited(url, response)
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise PeerUnreachable(f"cannot reach {url}: {exc or type(exc).__name__}") from None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


async def _read_limited(url: str, response: aiohttp.ClientResponse) -> bytes:
    """The whole reply, refusing one larger than any valid message."""
    if response.content_length is not None and response.content_length > MAX_MESSAGE_BYTES:
        raise NodeError(f"{url} sent a reply larger than {MAX_MESSAGE_BYTES} bytes")
    chunks: list[bytes] = []
    total = 0
    async for chunk in response.content.iter_chunked(64 * 1024):
        total += len(chunk)
        if total > MAX_MESSAGE_BYTES:
            raise NodeError(f"{url} sent a reply larger than {MAX_MESSAGE_BYTES} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def _read_error(response: aiohttp.ClientResponse) -> bytes:
    """The start of an error answer, MAX_ERROR_BYTES at most; the rest is never read (the
    connection is closed, not reused)."""
    chunks: list[bytes] = []
    total = 0
    while total < MAX_ERROR_BYTES:
        chunk = await response.content.read(MAX_ERROR_BYTES - total)
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    return b"".join(chunks)


class FederationClient:
    def __init__(self, transport: Transport | None = None) -> None:
        self.transport: Transport = transport or HttpTransport()

    async def fetch_document(self, base_url: str) -> NodeDocument:
        url = base_url.rstrip("/") + "/.well-known/tagshare"
        status, body = await self.transport.get(url)
        if status != 200:
            raise _refusal(url, status, body)
        try:
            return parse_document(body)
        except ProtocolError as exc:
            raise NodeError(f"{url} sent an invalid node document: {peer_text(exc)}") from None

    async def post(self, base_url: str, path: str, body: bytes) -> bytes:
        """POST and return the 200 response body; PeerRefused/PeerUnreachable otherwise."""
        url = base_url.rstrip("/") + path
        status, data = await self.transport.post(url, body)
        if status != 200:
            raise _refusal(url, status, data)
        return data

    async def close(self) -> None:
        await self.transport.close()


def _refusal(url: str, status: int, body: bytes) -> PeerRefused:
    """The peer's error, its text cut short and kept on one line (see node.peer_text)."""
    try:
        error = json.loads(body)
        code, message = error["error"], error["message"]
    except (ValueError, KeyError, TypeError):
        code, message = "http_error", body[:200].decode("utf-8", "replace")
    return PeerRefused(url, status, peer_text(code, 64), peer_text(message))
