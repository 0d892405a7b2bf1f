"""The dashboard's door: a session for every page, a CSRF token on every POST.

Pages and actions are wrapped by `page` and `action`. Without a live session
the answer is 401 with a page saying how to get a login link; a POST whose
CSRF token (or Origin) is not this session's is refused with 403 before its
handler runs. Every answer forbids caching and framing, keeps referrers on
this listener, and its Content-Security-Policy allows only this listener's
own script and style.
"""

import asyncio
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import aiohttp_jinja2
import jinja2
from aiohttp import web

from tagshare.node.admin.dashboard.login import Session, cookie_name, csrf_matches, find_session
from tagshare.node.clock import Clock
from tagshare.node.node import Node

T = TypeVar("T")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
SessionHandler = Callable[[web.Request, Session], Awaitable[web.StreamResponse]]

TEMPLATES = web.AppKey("dashboard_templates", jinja2.Environment)
DASHBOARD_NODE = web.AppKey("dashboard_node", Node)
DASHBOARD_DB = web.AppKey("dashboard_db", ThreadPoolExecutor)
DASHBOARD_CLOCK: web.AppKey[Clock] = web.AppKey("dashboard_clock")

PAGE_POLICY = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
               "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
               "base-uri 'none'")
# The pages seen without a session carry their (constant) style inline and no script.
BARE_POLICY = ("default-src 'none'; style-src 'unsafe-inline'; form-action 'none'; "
               "frame-ancestors 'none'; base-uri 'none'")


async def in_db(request: web.Request, work: Callable[[Node], T]) -> T:
    """Run `work(node)` on the node's database thread (the one the server uses)."""
    app = request.app
    node = app[DASHBOARD_NODE]
    return await asyncio.get_running_loop().run_in_executor(app[DASHBOARD_DB],
                                                            lambda: work(node))


def now(request: web.Request) -> int:
    return request.app[DASHBOARD_CLOCK]()


def harden(response: web.StreamResponse, policy: str = PAGE_POLICY) -> web.StreamResponse:
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Security-Policy"] = policy
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    # Not "no-referrer": with it, browsers send `Origin: null` on our own forms.
    response.headers["Referrer-Policy"] = "same-origin"
    return response


def bare_page(request: web.Request, template: str, status: int) -> web.StreamResponse:
    """A page shown without a session: no script, style inline."""
    response = aiohttp_jinja2.render_template(template, request, {}, status=status,
                                              app_key=TEMPLATES)
    return harden(response, BARE_POLICY)


async def _session(request: web.Request) -> Session | None:
    cookie = request.cookies.get(cookie_name(request.app[DASHBOARD_NODE]))
    at = now(request)
    return await in_db(request, lambda node: find_session(node, cookie, at))


def page(handler: SessionHandler) -> Handler:
    """A GET that needs a session (handed to the handler)."""
    async def guarded(request: web.Request) -> web.StreamResponse:
        session = await _session(request)
        if session is None:
            return bare_page(request, "login_needed.html", 401)
        return harden(await handler(request, session))

    return guarded


def action(handler: SessionHandler) -> Handler:
    """A POST that needs a session and its CSRF token (handed to the handler)."""
    async def guarded(request: web.Request) -> web.StreamResponse:
        session = await _session(request)
        if session is None:
            return bare_page(request, "login_needed.html", 401)
        form = await request.post()
        if not csrf_matches(session, form.get("csrf")) or not _same_origin(request):
            return bare_page(request, "forbidden.html", 403)
        return harden(await handler(request, session))

    return guarded


def _same_origin(request: web.Request) -> bool:
    """A browser's Origin, when it sends one, is this listener (defence in depth)."""
    origin = request.headers.get("Origin")
    return origin is None or origin == f"{request.scheme}://{request.host}"
