"""Prometheus metrics of the service (prometheus-client), and their exposition.

Labels never carry patient data: route templates, command and projection names,
status codes and outcomes only. With several uvicorn workers `serve` gives them
a shared directory (PROMETHEUS_MULTIPROC_DIR, prometheus-client's multiprocess
mode), so every worker's counts reach whichever worker is scraped; projection
progress is read from the store when scraped.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from infra.projection import ReadModels

REQUESTS = Counter(
    "care_http_requests",
    "HTTP requests answered, by method, route template and status",
    ["method", "route", "status"],
)
LATENCY = Histogram(
    "care_http_request_duration_seconds",
    "Time to answer an HTTP request, by method and route template",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
COMMANDS = Counter(
    "care_commands",
    "Commands handled, by command and outcome (recorded, replayed, refused)",
    ["command", "outcome"],
)
CONFLICTS = Counter(
    "care_command_conflicts",
    "Commands that lost to another writer, by command and kind "
    "(version_mismatch: a stale If-Match; retries_exhausted)",
    ["command", "kind"],
)
REPLAYS = Counter(
    "care_idempotent_replays",
    "Commands answered from an earlier one with the same idempotency key",
    ["command"],
)
ACCESS_LOG_WRITES = Counter(
    "care_access_log_entries",
    "Access-log entries written, by outcome (disclosed, denied, not_found, refused)",
    ["outcome"],
)
POOL_IN_USE = Gauge(
    "care_db_pool_connections_in_use",
    "Database connections in use by this process's pool",
    multiprocess_mode="livesum",
)
POOL_WAITING = Gauge(
    "care_db_pool_requests_waiting",
    "Requests waiting for a database connection in this process",
    multiprocess_mode="livesum",
)

READS_WAITING = Gauge(
    "care_reads_waiting_for_position",
    "Read-model queries waiting for their min_position in this process",
    multiprocess_mode="livesum",
)


def pool_stats(pool: Any) -> tuple[int, int]:
    """(in use, waiting) of the application's pool, PostgreSQL's or SQLite's."""
    stats = getattr(pool, "get_stats", None)
    if stats is not None:
        values = stats()
        size = values.get("pool_size", 0) - values.get("pool_available", 0)
        return max(size, 0), values.get("requests_waiting", 0)
    return int(getattr(pool, "num_in_use", 0)), 0


def observe_pool(pool: Any) -> None:
    """Record the pool's current use (called as requests end)."""
    in_use, waiting = pool_stats(pool)
    POOL_IN_USE.set(in_use)
    POOL_WAITING.set(waiting)


class ProjectionCollector(Collector):
    """Each projection's position, the head, lag and failure, read when scraped."""

    def __init__(self, read_models: ReadModels) -> None:
        self.read_models = read_models

    def collect(self) -> Iterable[Metric]:
        families = {
            "position": GaugeMetricFamily(
                "care_projection_position",
                "Global position the projection has processed",
                labels=["projection"],
            ),
            "head": GaugeMetricFamily(
                "care_projection_head", "Newest global position in the store",
                labels=["projection"],
            ),
            "lag_events": GaugeMetricFamily(
                "care_projection_lag_events", "Events the projection has yet to process",
                labels=["projection"],
            ),
            "lag_seconds": GaugeMetricFamily(
                "care_projection_lag_seconds",
                "Age of the oldest event the projection has yet to process",
                labels=["projection"],
            ),
            "failed": GaugeMetricFamily(
                "care_projection_failed",
                "1 while a handler error holds the projection at an event",
                labels=["projection"],
            ),
        }  # fmt: skip
        for status in self.read_models.status():
            values = {
                "position": status.position,
                "head": status.head,
                "lag_events": status.lag_events,
                "lag_seconds": status.lag_seconds,
                "failed": 1 if status.state == "failed" else 0,
            }
            for key, value in values.items():
                families[key].add_metric([status.name], value)
        yield from families.values()


def exposition(
    read_models: ReadModels, multiprocess_dir: Path | None
) -> tuple[bytes, str]:
    """The metrics page: every process's counters, and projection progress."""
    registry = CollectorRegistry()
    if multiprocess_dir is not None:
        multiprocess.MultiProcessCollector(registry, path=str(multiprocess_dir))
    else:
        for collector in _process_collectors():
            registry.register(collector)
    registry.register(ProjectionCollector(read_models))
    return generate_latest(registry), CONTENT_TYPE_LATEST


def _process_collectors() -> Iterator[Collector]:
    from prometheus_client import REGISTRY

    yield REGISTRY
