"""The admin listener: loopback-only, beside the federation listener in `serve`.

It serves Prometheus `/metrics` (no login, as a scraper expects) and, later,
the dashboard; every other path answers 401 with how to get a login link.
"""

from tagshare.node.admin.app import create_admin_app
from tagshare.node.admin.metrics import NodeMetrics

__all__ = ["NodeMetrics", "create_admin_app"]
