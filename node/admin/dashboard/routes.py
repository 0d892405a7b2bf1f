"""The dashboard's pages and actions on the admin listener.

Handlers parse, delegate to the node/ functions the CLI calls, and render.
A page answers a request carrying the `X-Tagshare-Live` header (sent by
dashboard.js every second) with JSON {"version", "html"}: the page's live
part, re-rendered, or 204 if it did not change since that version.
"""

import hashlib
from collections.abc import Callable
from importlib import resources
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from markupsafe import Markup

from tagshare.node import pairing, peers, shares
from tagshare.node.admin.dashboard import views
from tagshare.node.admin.dashboard.guard import (
    DASHBOARD_NODE,
    TEMPLATES,
    action,
    bare_page,
    in_db,
    now,
    page,
)
from tagshare.node.admin.dashboard.login import (
    SESSION_SECONDS,
    Session,
    cookie_name,
    end_session,
    redeem_login,
)
from tagshare.node.errors import NodeError
from tagshare.node.node import Node
from tagshare.node.normalize import parse_duration

LIVE_HEADER = "X-Tagshare-Live"
STATIC = {"dashboard.css": "text/css", "dashboard.js": "text/javascript"}
INVITE_LIFETIMES = {"1h": "1 hour", "24h": "24 hours", "7d": "7 days"}
NOTICES = {
    "accepted": "Accepted.",
    "declined": "Offer declined.",
    "left": "You left the share.",
    "retrying": "Backoff reset: the node is trying that peer now.",
}
BACK_PAGES = ("/", "/peers", "/shares", "/offers")


def render(request: web.Request, session: Session, template: str, context: dict[str, Any],
           status: int = 200) -> web.StreamResponse:
    """A page in the dashboard's frame (navigation, log-out form)."""
    frame = {"csrf": session.csrf, "path": request.path,
             "node_name": request.app[DASHBOARD_NODE].config.name,
             "notice": NOTICES.get(request.query.get("done", "")), "live": "", "version": ""}
    return aiohttp_jinja2.render_template(template, request, {**frame, **context},
                                          status=status, app_key=TEMPLATES)


async def show(request: web.Request, session: Session, name: str, context: dict[str, Any],
               status: int = 200) -> web.StreamResponse:
    """Render page `name` (its live part from live/NAME.html), or only the live part."""
    context = {**context, "csrf": session.csrf}
    live = aiohttp_jinja2.render_string(f"live/{name}.html", request, context,
                                        app_key=TEMPLATES)
    version = hashlib.sha256(live.encode()).hexdigest()[:16] if live.strip() else ""
    seen = request.headers.get(LIVE_HEADER)
    if seen is not None:
        if seen == version:
            return web.Response(status=204)
        return web.json_response({"version": version, "html": live})
    return render(request, session, f"{name}.html", {**context, "live": Markup(live),
                                            "version": version}, status)


def viewer(name: str, work: Callable[[Node, int], dict[str, Any]]) -> Callable[..., Any]:
    """A page that shows what `work(node, now)` read."""
    @page
    async def view(request: web.Request, session: Session) -> web.StreamResponse:
        at = now(request)
        context = await in_db(request, lambda node: work(node, at))
        return await show(request, session, name, context)

    return view


async def login(request: web.Request) -> web.StreamResponse:
    token = request.match_info["token"]
    at = now(request)
    redeemed = await in_db(request, lambda node: redeem_login(node, token, at))
    if redeemed is None:
        return bare_page(request, "link_used.html", 401)
    session_id, _session = redeemed
    # A page, not a redirect: a SameSite=Strict cookie set while following a link from
    # elsewhere is not sent on that same navigation's redirect, but is on the next one.
    response = bare_page(request, "logged_in.html", 200)
    response.set_cookie(cookie_name(request.app[DASHBOARD_NODE]), session_id,
                        max_age=SESSION_SECONDS, path="/", httponly=True, samesite="Strict",
                        secure=request.secure)
    return response


@action
async def logout(request: web.Request, session: Session) -> web.StreamResponse:
    await in_db(request, lambda node: end_session(node, session))
    response = bare_page(request, "logged_out.html", 200)
    response.del_cookie(cookie_name(request.app[DASHBOARD_NODE]), path="/")
    return response


async def _do(request: web.Request, session: Session, work: Callable[[Node], object],
              notice: str, default_back: str) -> web.StreamResponse:
    """Run an action; back to the page it came from, or the error page."""
    form = await request.post()
    back = str(form.get("back", default_back))
    try:
        await in_db(request, work)
    except NodeError as error:
        return render(request, session, "error.html", {"message": str(error),
                                              "back": _safe_back(back)}, 409)
    return web.Response(status=303, headers={"Location": f"{_safe_back(back)}?done={notice}"})


def _safe_back(back: str) -> str:
    """Only our own pages: never a redirect to wherever a form says."""
    return back if back in BACK_PAGES else "/"


@action
async def accept_share(request: web.Request, session: Session) -> web.StreamResponse:
    share_id = request.match_info["share"]
    return await _do(request, session,
                     lambda node: shares.accept_share(node, share_id, None), "accepted",
                     "/offers")


@action
async def decline_share(request: web.Request, session: Session) -> web.StreamResponse:
    share_id = request.match_info["share"]
    return await _do(request, session, lambda node: shares.decline_share(node, share_id),
                     "declined", "/offers")


@action
async def leave_share(request: web.Request, session: Session) -> web.StreamResponse:
    share_id = request.match_info["share"]
    return await _do(request, session, lambda node: shares.leave_share(node, share_id),
                     "left", "/offers")


@action
async def retry_peer(request: web.Request, session: Session) -> web.StreamResponse:
    peer_id = request.match_info["peer"]
    return await _do(request, session, lambda node: peers.retry_peer(node, peer_id),
                     "retrying", "/peers")


@page
async def invites(request: web.Request, session: Session) -> web.StreamResponse:
    return await show(request, session, "invites", _invite_context(request))


def _invite_context(request: web.Request) -> dict[str, Any]:
    return {"lifetimes": INVITE_LIFETIMES, "invite": None, "error": None,
            "fingerprint": request.app[DASHBOARD_NODE].fingerprint}


@action
async def create_invite(request: web.Request, session: Session) -> web.StreamResponse:
    """Make an invite and show its token, this once (it is stored only as a hash)."""
    form = await request.post()
    expires = str(form.get("expires", ""))
    context = _invite_context(request)
    at = now(request)
    try:
        if expires not in INVITE_LIFETIMES:
            raise NodeError("choose how long the invite stays valid")
        lifetime = parse_duration(expires)
        token = await in_db(request, lambda node: pairing.create_invite(node, lifetime, at))
        context["invite"] = {"token": token.encode(), "expires": INVITE_LIFETIMES[expires]}
    except NodeError as error:
        context["error"] = str(error)
    return await show(request, session, "invites", context,
                      status=400 if context["error"] else 200)


@page
async def people(request: web.Request, session: Session) -> web.StreamResponse:
    query = request.query.get("q", "").strip()[:200]
    return await show(request, session, "people", await in_db(
        request, lambda node: views.people_page(node, query)))


@page
async def person(request: web.Request, session: Session) -> web.StreamResponse:
    uuid = request.match_info["uuid"]
    try:
        context = await in_db(request, lambda node: views.person_page(node, uuid))
    except NodeError as error:
        return render(request, session, "error.html",
                      {"message": str(error), "back": "/people"}, 404)
    return await show(request, session, "person", context)


@page
async def static_file(request: web.Request, _session: Session) -> web.StreamResponse:
    name = request.match_info["name"]
    if name not in STATIC:
        raise web.HTTPNotFound()
    body = resources.files(__package__).joinpath("static", name).read_bytes()
    return web.Response(body=body, content_type=STATIC[name])


def add_routes(app: web.Application) -> None:
    app.router.add_get("/static/{name}", static_file)
    app.router.add_get("/login/{token}", login)
    app.router.add_post("/logout", logout)
    app.router.add_get("/", viewer("overview", views.overview))
    app.router.add_get("/peers", viewer("peers", views.peers_page))
    app.router.add_post("/peers/{peer}/retry", retry_peer)
    app.router.add_get("/shares", viewer("shares", views.shares_page))
    app.router.add_get("/offers", viewer("offers", views.offers_page))
    app.router.add_post("/shares/{share}/accept", accept_share)
    app.router.add_post("/shares/{share}/decline", decline_share)
    app.router.add_post("/shares/{share}/leave", leave_share)
    app.router.add_get("/invites", invites)
    app.router.add_post("/invites", create_invite)
    app.router.add_get("/people", people)
    app.router.add_get("/people/{uuid}", person)
    app.router.add_get("/audit", viewer("audit", lambda node, _now: views.audit_page(node)))
