"""Reading an OSDI server (Action Network, another node): pages of a collection, one
resource, with the token in the OSDI-API-Token header.

Everything the server answers is hostile until checked: answers are capped in
size and time, must be JSON objects, and pages are asked for by number under the
source's own URL; an `href` the server hands back is followed only when it lies
under that URL, so a source cannot send this node's token anywhere else.
"""

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any, Protocol
from urllib.parse import urlencode, urlsplit

import aiohttp
import orjson

from tagshare.node.errors import InvalidInput, NodeError

MAX_ANSWER = 8 * 1024 * 1024
TIMEOUT_SECONDS = 60
MAX_WAITS = 10  # 429 answers in a row before giving up
MAX_PAGES = 200_000  # 5,000,000 records at 25 a page: a server that never ends is cut off


class SourceError(NodeError):
    """The OSDI server could not be read (unreachable, refused, or nonsense)."""


class Fetch(Protocol):
    async def __call__(self, url: str) -> dict[str, Any]: ...


def check_url(url: str) -> str:
    """The source's base URL (the API entry point), without a trailing slash."""
    text = url.strip().rstrip("/")
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc or len(text) > 500:
        raise InvalidInput(f"{url!r} is not an http(s) URL such as "
                           "https://actionnetwork.org/api/v2")
    return text


class HttpSource:
    """The real transport: aiohttp, one session, a timeout and a size cap."""

    def __init__(self, token: str, *, timeout: float = TIMEOUT_SECONDS) -> None:
        self.headers = {"OSDI-API-Token": token, "Accept": "application/hal+json"}
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.session: aiohttp.ClientSession | None = None

    async def __call__(self, url: str) -> dict[str, Any]:
        for _attempt in range(MAX_WAITS):
            status, wait, body = await self._get(url)
            if status != 429:
                break
            await asyncio.sleep(wait)  # the server's rate limit: wait as it asks
        if status != 200:
            raise SourceError(f"{url} answered HTTP {status}: {body[:200]!r}")
        if len(body) > MAX_ANSWER:
            raise SourceError(f"{url} answered more than {MAX_ANSWER} bytes")
        return parse_answer(url, body)

    async def _get(self, url: str) -> tuple[int, float, bytes]:
        """Status, seconds a 429 asks to wait (1 to 60), body (one byte past the cap)."""
        if self.session is None:
            self.session = aiohttp.ClientSession(timeout=self.timeout, headers=self.headers)
        try:
            async with self.session.get(url, allow_redirects=False) as response:
                chunks: list[bytes] = []
                size = 0
                async for chunk in response.content.iter_chunked(64 * 1024):
                    chunks.append(chunk)
                    size += len(chunk)
                    if size > MAX_ANSWER:
                        break
                body = b"".join(chunks)
                retry = response.headers.get("Retry-After", "1")
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise SourceError(f"cannot reach {url}: {exc or type(exc).__name__}") from None
        wait = float(retry) if retry.isascii() and retry.isdigit() else 1.0
        return response.status, min(max(wait, 1.0), 60.0), body

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()


def parse_answer(url: str, body: bytes) -> dict[str, Any]:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise SourceError(f"{url} did not answer JSON") from None
    if not isinstance(data, dict):
        raise SourceError(f"{url} did not answer a JSON object")
    return data


async def pages(fetch: Fetch, base: str, path: str, params: dict[str, str] | None = None,
                on_total: Callable[[int], None] = lambda total: None,
                ) -> AsyncIterator[list[dict[str, Any]]]:
    """The items of each page of a collection, until an empty page or the last one;
    `on_total` hears the collection's `total_records` when the first page has it."""
    for page in range(1, MAX_PAGES + 1):
        query = urlencode({**(params or {}), "page": page, "per_page": 25})
        answer = await fetch(f"{base}/{path}?{query}")
        items = embedded_items(answer)
        records = answer.get("total_records")
        if page == 1 and isinstance(records, int) and not isinstance(records, bool):
            on_total(max(records, 0))
        if not items:
            return
        yield items
        total = answer.get("total_pages")
        if isinstance(total, int) and not isinstance(total, bool) and page >= total:
            return
    raise SourceError(f"{base}/{path} has more than {MAX_PAGES} pages: stopped")


def embedded_items(answer: dict[str, Any]) -> list[dict[str, Any]]:
    """The one list in `_embedded` (OSDI names it `osdi:people`, `osdi:tags`...)."""
    embedded = answer.get("_embedded")
    if not isinstance(embedded, dict) or len(embedded) > 1:
        raise SourceError("an OSDI page needs one list in _embedded")
    items: Any = next(iter(embedded.values()), [])
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise SourceError("an OSDI page's _embedded list holds something other than objects")
    return items


def href(resource: dict[str, Any], rel: str) -> str | None:
    links = resource.get("_links")
    target = links.get(rel) if isinstance(links, dict) else None
    value = target.get("href") if isinstance(target, dict) else None
    return value if isinstance(value, str) and len(value) < 2000 else None


def last_segment(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[-1]


def remote_id(resource: dict[str, Any]) -> str | None:
    """A resource's id at the source: the end of its self link, else its first identifier."""
    own = href(resource, "self")
    if own:
        return last_segment(own)[:200] or None
    identifiers = resource.get("identifiers")
    if isinstance(identifiers, list) and identifiers and isinstance(identifiers[0], str):
        return identifiers[0][:200]
    return None
