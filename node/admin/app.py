"""The admin listener's web application: /metrics, and a 401 page for everything else."""

import asyncio
from concurrent.futures import ThreadPoolExecutor

from aiohttp import web
from prometheus_client.aiohttp import make_aiohttp_handler

from tagshare.node.admin.dashboard import add_dashboard
from tagshare.node.admin.metrics import NodeMetrics
from tagshare.node.node import Node

METRICS_PATH = "/metrics"
ADMIN_NODE = web.AppKey("admin_node", Node)
METRICS = web.AppKey("metrics", NodeMetrics)
ADMIN_DB_THREAD = web.AppKey("admin_db_thread", ThreadPoolExecutor)

LOGIN_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>tagshare: log in</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><h1>Log in to this tagshare node</h1>
<p>This page needs a login link. On the server, run:</p>
<pre>tagshare dashboard</pre>
<p>and open the one-time link it prints.</p></body></html>
"""


def create_admin_app(node: Node, metrics: NodeMetrics,
                     db_thread: ThreadPoolExecutor) -> web.Application:
    """The admin application; `db_thread` is the federation app's database thread."""
    app = web.Application()
    app[ADMIN_NODE] = node
    app[METRICS] = metrics
    app[ADMIN_DB_THREAD] = db_thread
    exposition = make_aiohttp_handler(metrics.registry)

    async def get_metrics(request: web.Request) -> web.StreamResponse:
        await asyncio.get_running_loop().run_in_executor(
            db_thread, metrics.refresh, node.conn)
        return await exposition(request)

    app.router.add_get(METRICS_PATH, get_metrics)
    add_dashboard(app, node, db_thread)
    app.router.add_route("*", "/{path:.*}", login_needed)
    return app


async def login_needed(request: web.Request) -> web.Response:
    return web.Response(status=401, text=LOGIN_PAGE, content_type="text/html",
                        headers={"Cache-Control": "no-store"})
