"""Talking to other nodes over HTTP.

`Transport` is the seam: the real one uses aiohttp with timeouts; a test may
hand the client another (for example one that injects faults). Integration
tests use the real thing.
"""

import asyncio
import contextlib
import hashlib
import json
import ssl
from typing import Protocol
from urllib.parse import urlsplit

import aiohttp

from tagshare.node.errors import NodeError
from tagshare.node.peer_text import peer_text
from tagshare.protocol import MAX_MESSAGE_BYTES, NodeDocument, ProtocolError, parse_document

REQUEST_TIMEOUT_SECONDS = 30
# Connections are kept and reused: to each peer at most PEER_CONNECTIONS at once (the
# sync worker's batches in flight to one share, and a control message), at most
# CONNECTIONS in all (file descriptors: a party with 300 peers), each kept open
# KEEPALIVE_SECONDS after its last request, so one edit fanned out to every peer
# does not reconnect to each of them.
CONNECTIONS = 128
PEER_CONNECTIONS = 6
KEEPALIVE_SECONDS = 60.0
JSON_HEADERS = {"Content-Type": "application/json"}
# An error answer is a short JSON object: no more of one is ever read (a hostile peer
# answered 2 MB of text).
MAX_ERROR_BYTES = 16 * 1024


class PeerUnreachable(NodeError):
    """The peer did not answer (connection refused, timeout, reset)."""


class PeerCertificateMismatch(PeerUnreachable):
    """The peer's TLS certificate is not the one its signed node document pins."""


class PeerRefused(NodeError):
    """The peer answered with an error status."""

    def __init__(self, url: str, status: int, code: str, message: str) -> None:
        super().__init__(f"{url} refused the request: {code} (HTTP {status}): {message}")
        self.status = status
        self.code = code
        self.peer_message = message


class Transport(Protocol):
    """`tls_sha256`: connect only to the certificate with this SHA-256 (no CA check)."""

    async def get(self, url: str, tls_sha256: str | None = None) -> tuple[int, bytes]: ...

    async def post(self, url: str, body: bytes,
                   tls_sha256: str | None = None) -> tuple[int, bytes]: ...

    async def get_first_contact(self, url: str) -> tuple[int, bytes, str | None]: ...

    async def close(self) -> None: ...


class HttpTransport:
    """aiohttp client with a total timeout and a cap on response size."""

    def __init__(self, timeout: float = REQUEST_TIMEOUT_SECONDS) -> None:
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=CONNECTIONS, limit_per_host=PEER_CONNECTIONS,
                                             keepalive_timeout=KEEPALIVE_SECONDS)
            self._session = aiohttp.ClientSession(timeout=self._timeout, connector=connector)
        return self._session

    async def get(self, url: str, tls_sha256: str | None = None) -> tuple[int, bytes]:
        return await self._request("GET", url, None, _pinned(tls_sha256))

    async def post(self, url: str, body: bytes,
                   tls_sha256: str | None = None) -> tuple[int, bytes]:
        return await self._request("POST", url, body, _pinned(tls_sha256))

    async def get_first_contact(self, url: str) -> tuple[int, bytes, str | None]:
        """GET from whatever certificate the server shows (https), and that certificate's
        SHA-256, for the caller to compare with the fingerprint the answer signs."""
        seen = await self._certificate_of(url) if url.startswith("https://") else None
        status, body = await self.get(url, seen)
        return status, body, seen

    async def _certificate_of(self, url: str) -> str:
        """The SHA-256 of the certificate a TLS server presents, checking nothing."""
        parts = urlsplit(url)
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        try:
            async with asyncio.timeout(self._timeout.total):
                _, writer = await asyncio.open_connection(parts.hostname, parts.port or 443,
                                                          ssl=context)
        except (OSError, ssl.SSLError, TimeoutError) as exc:
            raise PeerUnreachable(f"cannot reach {url}: {exc or type(exc).__name__}") from None
        try:
            der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
        finally:
            writer.close()
            with contextlib.suppress(OSError, ssl.SSLError):
                await writer.wait_closed()
        return hashlib.sha256(der).hexdigest()

    async def _request(self, method: str, url: str, body: bytes | None,
                       tls: aiohttp.Fingerprint | bool) -> tuple[int, bytes]:
        try:
            async with self._client().request(method, url, data=body, headers=JSON_HEADERS,
                                              ssl=tls) as response:
                if response.status != 200:
                    return response.status, await _read_error(response)
                return response.status, await _read_limited(url, response)
        except aiohttp.ServerFingerprintMismatch:
            raise PeerCertificateMismatch(
                f"{url} presented a TLS certificate other than the one it signed") from None
        except aiohttp.ClientConnectorCertificateError as exc:
            raise PeerCertificateMismatch(f"{url} presented a TLS certificate that no "
                                          f"authority vouches for and none was pinned: "
                                          f"{exc.certificate_error}") from None
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise PeerUnreachable(f"cannot reach {url}: {exc or type(exc).__name__}") from None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def _pinned(tls_sha256: str | None) -> aiohttp.Fingerprint | bool:
    return aiohttp.Fingerprint(bytes.fromhex(tls_sha256)) if tls_sha256 else True


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

    async def fetch_document(self, base_url: str, tls_sha256: str | None = None,
                             ) -> NodeDocument:
        """The node document at `base_url`. Over https without a pin (first contact), the
        certificate must be the one the document signs, or, for a document that pins
        none, pass the usual CA check; the caller still verifies the signature."""
        url = base_url.rstrip("/") + "/.well-known/tagshare"
        if not url.startswith("https://") or tls_sha256 is not None:
            return _document(url, *await self.transport.get(url, tls_sha256))
        status, body, seen = await self.transport.get_first_contact(url)
        document = _document(url, status, body)
        if document.tls_sha256 is None:  # not self-pinned (a reverse proxy): CA-checked
            return _document(url, *await self.transport.get(url))
        if seen != document.tls_sha256:
            raise PeerCertificateMismatch(
                f"{url} presented a TLS certificate other than the one its document signs")
        return document

    async def post(self, base_url: str, path: str, body: bytes,
                   tls_sha256: str | None = None) -> bytes:
        """POST and return the 200 response body; PeerRefused/PeerUnreachable otherwise."""
        url = base_url.rstrip("/") + path
        status, data = await self.transport.post(url, body, tls_sha256)
        if status != 200:
            raise _refusal(url, status, data)
        return data

    async def close(self) -> None:
        await self.transport.close()


def _document(url: str, status: int, body: bytes) -> NodeDocument:
    if status != 200:
        raise _refusal(url, status, body)
    try:
        return parse_document(body)
    except ProtocolError as exc:
        raise NodeError(f"{url} sent an invalid node document: {peer_text(exc)}") from None


def _refusal(url: str, status: int, body: bytes) -> PeerRefused:
    """The peer's error, its text cut short and kept on one line (see node.peer_text)."""
    try:
        error = json.loads(body)
        code, message = error["error"], error["message"]
    except (ValueError, KeyError, TypeError):
        code, message = "http_error", body[:200].decode("utf-8", "replace")
    return PeerRefused(url, status, peer_text(code, 64), peer_text(message))
