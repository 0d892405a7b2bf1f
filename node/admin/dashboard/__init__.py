"""The dashboard: the node in a browser, on the admin listener.

Server-rendered pages (Jinja2, autoescaped: people's names come from peers
and are hostile) with a little plain JavaScript that refreshes each page's
live part every second. Log in with the one-time link `tagshare dashboard`
prints; see login.py for the sessions and guard.py for the door.
"""

from concurrent.futures import ThreadPoolExecutor

import aiohttp_jinja2
import jinja2
from aiohttp import web

from tagshare.node.admin.dashboard.guard import (
    DASHBOARD_CLOCK,
    DASHBOARD_DB,
    DASHBOARD_NODE,
    TEMPLATES,
)
from tagshare.node.admin.dashboard.login import login_link
from tagshare.node.admin.dashboard.routes import add_routes
from tagshare.node.clock import Clock, system_clock
from tagshare.node.node import Node

__all__ = ["add_dashboard", "login_link"]


def add_dashboard(app: web.Application, node: Node, db_thread: ThreadPoolExecutor, *,
                  clock: Clock = system_clock) -> None:
    """Add the dashboard's routes to `app`; `db_thread` is the node's database thread."""
    app[DASHBOARD_NODE] = node
    app[DASHBOARD_DB] = db_thread
    app[DASHBOARD_CLOCK] = clock
    aiohttp_jinja2.setup(app, app_key=TEMPLATES, default_helpers=False,
                         loader=jinja2.PackageLoader(__name__, "templates"),
                         autoescape=True, undefined=jinja2.StrictUndefined)
    add_routes(app)
