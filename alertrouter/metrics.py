"""Prometheus metrics of one App, in a registry of its own (GET /metrics on the local server).

    alertrouter_events_total{source,kind}                events taken in (new, not duplicates)
    alertrouter_duplicate_events_total{source}           redeliveries acknowledged and dropped
    alertrouter_rejected_payloads_total{endpoint,reason} 4xx answers (malformed, unsupported, too_large,
                                                         unauthorized, …)
    alertrouter_dropped_events_total{reason}             events acknowledged and not routed (allow-lists)
    alertrouter_notifications_total{channel,outcome}     attempts: delivered, retry, failed; and dead
    alertrouter_delivery_latency_seconds{channel}        intake to successful delivery
    alertrouter_send_seconds{channel}                    one channel call
    alertrouter_outbox_notifications{status}             pending / sent / dead now (read at scrape)
    alertrouter_outbox_oldest_pending_age_seconds        how long the oldest pending one has waited
"""

from __future__ import annotations

import time
from typing import Callable

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.events = Counter("alertrouter_events", "Events taken in", ["source", "kind"], registry=r)
        self.duplicates = Counter("alertrouter_duplicate_events", "Redelivered events acknowledged and dropped",
                                  ["source"], registry=r)
        self.rejected = Counter("alertrouter_rejected_payloads", "Requests answered 4xx", ["endpoint", "reason"],
                                registry=r)
        self.dropped = Counter("alertrouter_dropped_events", "Events acknowledged and not routed", ["reason"],
                               registry=r)
        self.held = Counter("alertrouter_held_notifications", "Notifications a stage held back or deferred",
                            ["stage", "route"], registry=r)
        self.notifications = Counter("alertrouter_notifications", "Delivery attempts and dead letters by outcome",
                                     ["channel", "outcome"], registry=r)
        self.latency = Histogram("alertrouter_delivery_latency_seconds", "Intake to successful delivery",
                                 ["channel"], buckets=LATENCY_BUCKETS, registry=r)
        self.send_seconds = Histogram("alertrouter_send_seconds", "Duration of one channel call", ["channel"],
                                      buckets=LATENCY_BUCKETS, registry=r)

    def watch_store(self, counts: Callable[[], dict], oldest_pending: Callable[[], float | None]) -> None:
        """Outbox gauges, read from the store at each scrape."""
        self.registry.register(_OutboxCollector(counts, oldest_pending))

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class _OutboxCollector:
    def __init__(self, counts, oldest_pending):
        self.counts, self.oldest_pending = counts, oldest_pending

    def describe(self):
        return []

    def collect(self):
        by_status = GaugeMetricFamily("alertrouter_outbox_notifications", "Notifications in the outbox by status",
                                      labels=["status"])
        counts = self.counts()
        for status in ("pending", "sent", "dead", "held"):
            by_status.add_metric([status], counts.get(status, 0))
        yield by_status
        oldest = self.oldest_pending()
        yield GaugeMetricFamily("alertrouter_outbox_oldest_pending_age_seconds",
                                "Age of the oldest pending notification (0 when none)",
                                value=max(0.0, time.time() - oldest) if oldest else 0.0)
