"""The node's Prometheus metrics, on a registry of its own.

Counters and the delivery histogram are incremented as things happen (the
sync worker and the server call the Telemetry hooks). Gauges are read from
storage at scrape time: the /metrics handler first reads them on the
database thread (`refresh`), then prometheus_client's handler collects them.
A registry per node, never the global default: one process may run many
nodes (the tests do).
"""

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from tagshare.node.storage import gauges
from tagshare.node.telemetry import Telemetry

DELIVERY_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


@dataclass
class Gauges:
    """What storage said at the last refresh."""

    people: int = 0
    shares: list[tuple[str, str, int]] = field(default_factory=list)
    pending: list[tuple[str, str, int]] = field(default_factory=list)
    failing: list[tuple[str, int]] = field(default_factory=list)


def read_gauges(conn: sqlite3.Connection) -> Gauges:
    return Gauges(
        people=gauges.people_count(conn),
        shares=[(r["direction"], r["status"], r["shares"]) for r in gauges.share_counts(conn)],
        pending=[(r["share"], r["peer"], r["owed"]) for r in gauges.pending_per_share(conn)],
        failing=[(r["peer"], r["attempts"]) for r in gauges.failed_attempts_per_peer(conn)],
    )


class StorageCollector(Collector):
    def __init__(self) -> None:
        self.latest = Gauges()

    def collect(self) -> Iterator[Metric]:
        latest = self.latest
        yield GaugeMetricFamily("tagshare_people", "People in this node's database.",
                                value=latest.people)
        shares = GaugeMetricFamily("tagshare_shares", "Shares by direction and status.",
                                   labels=["direction", "status"])
        for direction, status, count in latest.shares:
            shares.add_metric([direction, status], count)
        yield shares
        pending = GaugeMetricFamily(
            "tagshare_share_pending", "Changed people an active outgoing share still owes.",
            labels=["share", "peer"])
        for share, peer, owed in latest.pending:
            pending.add_metric([share, peer], owed)
        yield pending
        failing = GaugeMetricFamily(
            "tagshare_peer_failed_attempts",
            "Failed delivery attempts to a peer in a row (0 once one succeeds).",
            labels=["peer"])
        for peer, attempts in latest.failing:
            failing.add_metric([peer], attempts)
        yield failing


class NodeMetrics(Telemetry):
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.storage = StorageCollector()
        self.registry.register(self.storage)
        self.deliveries = Counter(
            "tagshare_deliveries", "Delivery rounds to a peer, by result.",
            ["peer", "result"], registry=self.registry)
        self.delivery_seconds = Histogram(
            "tagshare_delivery_seconds", "How long one delivery round to a peer took.",
            buckets=DELIVERY_BUCKETS, registry=self.registry)
        self.inbox_requests = Counter(
            "tagshare_inbox_requests", "Signed federation requests (inbox, outbox pulls, "
            "pairing), by result: ok or the refusal's code.", ["result"], registry=self.registry)

    def refresh(self, conn: sqlite3.Connection) -> None:
        """Read the gauges (call on the database thread)."""
        self.storage.latest = read_gauges(conn)

    def delivery(self, peer: str, result: str, seconds: float) -> None:
        self.deliveries.labels(peer=peer, result=result).inc()
        self.delivery_seconds.observe(seconds)

    def request(self, result: str) -> None:
        self.inbox_requests.labels(result=result).inc()
