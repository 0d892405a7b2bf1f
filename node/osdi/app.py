"""The OSDI API's web application, mounted under /api/osdi/v1 on the federation listener.

Every request passes one guard (`guard`): with no live API token at all the API
does not exist (404); otherwise the `OSDI-API-Token` header must name a live token
(401), within its rate limit (429, Retry-After), and only a write token may use
anything but GET (403). Handlers (node/osdi/handlers.py) parse, call
node/osdi/service.py on the database thread, and serialize; a NodeError becomes
an OSDI error body with its status here, in one place.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import orjson
from aiohttp import web

from tagshare.node.errors import Ambiguous, InvalidInput, NodeError, NotFound
from tagshare.node.node import Node
from tagshare.node.osdi import tokens
from tagshare.node.osdi.ratelimit import RateLimiter
from tagshare.node.osdi.service import PeopleCounts, ReadOnlyPerson

log = logging.getLogger("tagshare.osdi")

PREFIX = "/api/osdi/v1"
MAX_BODY = 64 * 1024  # bytes of a request body
MAX_PAGESIZE = 100
DEFAULT_PAGESIZE = 25
TOKEN_HEADER = "OSDI-API-Token"
READ_METHODS = ("GET", "HEAD", "OPTIONS")

NODE = web.AppKey("osdi_node", Node)
DB_THREAD = web.AppKey("osdi_db_thread", ThreadPoolExecutor)
LIMITER = web.AppKey("osdi_limiter", RateLimiter)
COUNTS = web.AppKey("osdi_counts", PeopleCounts)
T = TypeVar("T")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Refused(NodeError):
    """A request refused before it reaches the node's services."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def create_osdi_app(node: Node, db_thread: ThreadPoolExecutor, *,
                    limiter: RateLimiter | None = None) -> web.Application:
    from tagshare.node.osdi.handlers import add_routes  # handlers use this module's helpers

    app = web.Application(middlewares=[guard])
    app[NODE] = node
    app[DB_THREAD] = db_thread
    app[LIMITER] = limiter or RateLimiter()
    app[COUNTS] = PeopleCounts()
    add_routes(app.router)
    return app


async def in_db(request: web.Request, work: Callable[[Node], T]) -> T:
    """Run `work(node)` on the node's database thread."""
    app = request.app
    node = app[NODE]
    return await asyncio.get_running_loop().run_in_executor(app[DB_THREAD], lambda: work(node))


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    presented = request.headers.get(TOKEN_HEADER)
    enabled, token = await in_db(
        request, lambda node: (tokens.api_enabled(node), tokens.check_token(node, presented)))
    if not enabled:
        return error(404, "not found: this node serves no OSDI API (no API token exists)")
    if token is None:
        return error(401, f"missing, unknown, revoked or expired {TOKEN_HEADER} header")
    wait = request.app[LIMITER].take(token.name)
    if wait is not None:
        response = error(429, f"too many requests with this token: retry in {wait} s")
        response.headers["Retry-After"] = str(wait)
        return response
    writing = request.method not in READ_METHODS
    if writing and not token.can_write:
        return error(403, f"API token {token.name!r} is read-only: writing needs a token "
                          "created with --scope write")
    try:
        answer = await handler(request)
    except NodeError as exc:
        return error(status_of(exc), str(exc))
    if writing and answer.status < 300:
        await in_db(request, lambda node: tokens.audit_write(
            node, token, request.method, request.path))
    return answer


def status_of(exc: NodeError) -> int:
    if isinstance(exc, Refused):
        return exc.status
    if isinstance(exc, ReadOnlyPerson):
        return 403
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, Ambiguous):
        return 409
    if isinstance(exc, InvalidInput):
        return 400
    return 400


def error(status: int, message: str) -> web.Response:
    """An OSDI error: Action Network's `error` key, and OSDI's status object."""
    log.debug("OSDI refused (%s): %s", status, message)
    body = {"error": message, "osdi:status": {"code": status, "description": message}}
    return web.Response(status=status, body=orjson.dumps(body),
                        content_type="application/json")


def hal(data: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(data),
                        content_type="application/hal+json")


def base_url(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}{PREFIX}"


async def read_body(request: web.Request) -> dict[str, Any]:
    """The JSON object in the body: at most MAX_BODY bytes (413), valid JSON (400)."""
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise Refused(413, f"body of {request.content_length} bytes exceeds {MAX_BODY}")
    chunks: list[bytes] = []
    total = 0
    async for chunk in request.content.iter_chunked(16 * 1024):
        total += len(chunk)
        if total > MAX_BODY:
            raise Refused(413, f"body exceeds {MAX_BODY} bytes")
        chunks.append(chunk)
    try:
        body = orjson.loads(b"".join(chunks))
    except orjson.JSONDecodeError:
        raise InvalidInput("the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise InvalidInput("the body must be a JSON object")
    return body
