"""Prometheus metrics, defined once: what `GET /metrics` shows.

Counters and histograms are `prometheus_client` objects that the code bumps
where things happen (one call at each site; nothing here queries the
database per request). With `PROMETHEUS_MULTIPROC_DIR` set (bin/run sets one
up) every process — each gunicorn worker, the `qcluster` and its workers —
writes its figures to files there and a scrape adds them up; unset, the
figures of this one process are shown (tests, `runserver`).

Gauges that describe stored state (open incidents, pending alerts, the cost
projection) are read from the database at scrape time only: the core names
them in `SCRAPE_GAUGES`, and the app that owns the data gives the reader in
its `AppConfig.ready()` (`metrics.provide(name, reader)`), as with status
probes.

Every label has a bounded set of values: route names (never raw paths),
known methods, schedule names, stream names; anything else is `other`.
"""

import logging
import os
import time
from collections.abc import Callable, Collection, Iterable, Iterator
from typing import Any

from django.conf import settings
from django.core.exceptions import MiddlewareNotUsed
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.samples import Sample

logger = logging.getLogger("echopilot.metrics")
request_logger = logging.getLogger("echopilot.request")

OTHER = "other"
# The classic text format every Prometheus (and promtool) reads.
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
# The definitions' own registry; a scrape in multiprocess mode reads the files instead.
REGISTRY = CollectorRegistry(auto_describe=True)

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# OpenFeature's reasons (flags report these); anything else is `other`.
FLAG_REASONS = frozenset(
    {"STATIC", "DEFAULT", "TARGETING_MATCH", "SPLIT", "CACHED", "DISABLED", "UNKNOWN", "STALE"}
    | {"ERROR"}
)
CHANGE_SOURCES = frozenset({"api", "admin", "cli", "config", "schedule"})

HTTP_REQUESTS = Counter(
    "echopilot_http_requests",
    "HTTP requests answered, by route name (`other`: no named route), method and status.",
    ["view", "method", "status"],
    registry=REGISTRY,
)
HTTP_DURATION = Histogram(
    "echopilot_http_request_duration_seconds",
    "Time from the request reaching Django to its response, by route name.",
    ["view"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
    registry=REGISTRY,
)
FLAG_EVALUATIONS = Counter(
    "echopilot_flag_evaluations",
    "Flag evaluations, by flag key (`other`: no such flag) and OpenFeature reason.",
    ["flag", "reason"],
    registry=REGISTRY,
)
FLAG_CHANGES = Counter(
    "echopilot_flag_changes",
    "Flag history rows committed, by interface (api, admin, cli, config, schedule).",
    ["source"],
    registry=REGISTRY,
)
EXPOSURES = Counter(
    "echopilot_experiment_exposures",
    "First exposures stored, by experiment and variant.",
    ["experiment", "variant"],
    registry=REGISTRY,
)
EVENTS = Counter(
    "echopilot_experiment_events",
    "Experiment events stored, by experiment and event name (`other`: not declared).",
    ["experiment", "event"],
    registry=REGISTRY,
)
ALERTS = Counter(
    "echopilot_alerts",
    "Alert delivery attempts, by channel and outcome (sent, failed).",
    ["channel", "outcome"],
    registry=REGISTRY,
)
TASK_RUNS = Counter(
    "echopilot_task_runs",
    "Scheduled task runs, by schedule name and outcome (ok, failed, error, skipped).",
    ["task", "outcome"],
    registry=REGISTRY,
)
TASK_LAST_SUCCESS = Gauge(
    "echopilot_task_last_success_timestamp_seconds",
    "Unix time the scheduled task last completed ok (processes and the run ledger).",
    ["task"],
    multiprocess_mode="max",
    registry=REGISTRY,
)
DIGEST_MESSAGES = Counter(
    "echopilot_support_digest_messages",
    "Messages the support digest reported, by kind (new, urgent).",
    ["kind"],
    registry=REGISTRY,
)
NDJSON_WRITE_ERRORS = Counter(
    "echopilot_ndjson_write_errors",
    "Failed writes to the NDJSON mirror (the lines wait in the outbox), by stream.",
    ["stream"],
    registry=REGISTRY,
)


def bounded(value: object, allowed: Collection[str]) -> str:
    """Return `value` if it is one of `allowed`, else `other`."""
    return value if isinstance(value, str) and value in allowed else OTHER


def _best_effort(action: Callable[[], None]) -> None:
    # Counting must never break what it counts (e.g. a full metrics directory).
    try:
        action()
    except Exception:
        logger.warning("metrics: could not record a figure", exc_info=True)


def _after_commit(action: Callable[[], None]) -> None:
    """Run `action` once the current transaction commits (now outside one)."""
    transaction.on_commit(lambda: _best_effort(action), robust=True)


# --- what the apps call -----------------------------------------------------------


def record_flag_evaluations(counts: dict[tuple[str, str, str], int]) -> None:
    """Add flag evaluations: {(flag key or "other", variant, reason): count}.

    The flags usage counter calls this at each flush (its keys are already
    bounded: an unknown flag arrives as "other"); variants are summed.
    """

    def add() -> None:
        for (flag, _variant, reason), count in counts.items():
            if count > 0:
                FLAG_EVALUATIONS.labels(flag or OTHER, bounded(reason, FLAG_REASONS)).inc(count)

    _best_effort(add)


def flag_changed(source: str, rows: int = 1) -> None:
    """Count `rows` flag history rows made through `source`, once committed."""
    _after_commit(lambda: FLAG_CHANGES.labels(bounded(source, CHANGE_SOURCES)).inc(rows))


def exposures_stored(pairs: Iterable[tuple[str, str]]) -> None:
    """Count stored first exposures, one per (experiment, variant), once committed."""
    items = list(pairs)
    _after_commit(lambda: _count_each(EXPOSURES, items))


def events_stored(pairs: Iterable[tuple[str, str]], declared: Collection[str] = ()) -> None:
    """Count stored events, one per (experiment, event name), once committed.

    A name not in `declared` (the experiment's declared events) is `other`:
    event names are free text, so counting them by name would be unbounded.
    """
    items = [(experiment, bounded(name, declared)) for experiment, name in pairs]
    _after_commit(lambda: _count_each(EVENTS, items))


def _count_each(counter: Counter, pairs: list[tuple[str, str]]) -> None:
    totals: dict[tuple[str, str], int] = {}
    for pair in pairs:
        totals[pair] = totals.get(pair, 0) + 1
    for (first, second), n in totals.items():
        counter.labels(first, second).inc(n)


def alert_attempted(channel: str, ok: bool) -> None:
    """Count one alert delivery attempt on `channel`."""
    _best_effort(lambda: ALERTS.labels(channel, "sent" if ok else "failed").inc())


def digest_reported(*, new: int, urgent: int) -> None:
    """Count the new and urgent messages of a stored support digest, once committed."""

    def add() -> None:
        DIGEST_MESSAGES.labels("new").inc(max(0, new))
        DIGEST_MESSAGES.labels("urgent").inc(max(0, urgent))

    _after_commit(add)


def ndjson_write_failed(file: str) -> None:
    """Count a failed mirror write to `file` (`<stream>.ndjson` or a latest `.json`)."""
    stream = file.rsplit(".", 1)[0] if file.endswith((".ndjson", ".json")) else OTHER
    _best_effort(lambda: NDJSON_WRITE_ERRORS.labels(stream).inc())


def task_finished(task: str, outcome: str) -> None:
    """Count a scheduled run of `task` (ok, failed, error, skipped); ok sets its last success."""

    def add() -> None:
        TASK_RUNS.labels(task, outcome).inc()
        if outcome == "ok":
            TASK_LAST_SUCCESS.labels(task).set(time.time())

    _best_effort(add)


# --- requests -----------------------------------------------------------------------


def route_name(request: HttpRequest) -> str:
    """Return the name of the route that served `request` (`admin:…` namespaced), or `other`."""
    match = getattr(request, "resolver_match", None)
    if match is None or not match.url_name:
        return OTHER
    return str(match.view_name)


def key_name(request: HttpRequest) -> str | None:
    """Return the label of the API key that authenticated `request`, never the key."""
    from echopilot.auth import ApiClient

    # DRF sets request.user to the ApiClient; `type()`, not isinstance(): the
    # admin's lazy session user would run a query to answer isinstance().
    user = request.__dict__.get("user")
    return user.label if type(user) is ApiClient else None


_REQUEST_CHILDREN: dict[tuple[str, str | None, int], tuple[Any, Any]] = {}


class RequestMetrics:
    """Count every response and its duration by route name; log it as JSON (LOG_FORMAT=json)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.count = bool(settings.METRICS_ENABLED)
        self.log = settings.LOG_FORMAT == "json"
        if not (self.count or self.log):
            raise MiddlewareNotUsed()
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        elapsed = time.perf_counter() - started
        view = route_name(request)
        if self.count:
            try:
                self._observe(view, request.method, response.status_code, elapsed)
            except Exception:
                logger.warning("metrics: could not count a request", exc_info=True)
        if self.log:
            self._log(request, view, response.status_code, elapsed)
        return response

    @staticmethod
    def _observe(view: str, method: str | None, status: int, elapsed: float) -> None:
        # The labelled children, looked up once per (view, method, status): the
        # hot path then only adds to them.
        key = (view, method, status)
        children = _REQUEST_CHILDREN.get(key)
        if children is None:
            labels = (view, bounded(method, METHODS), str(status))
            children = (HTTP_REQUESTS.labels(*labels), HTTP_DURATION.labels(view))
            if len(_REQUEST_CHILDREN) < 10_000:  # bounded labels; a guard all the same
                _REQUEST_CHILDREN[key] = children
        children[0].inc()
        children[1].observe(elapsed)

    @staticmethod
    def _log(request: HttpRequest, view: str, status: int, elapsed: float) -> None:
        fields = {
            "method": request.method,
            "route": view,
            "path": request.path,
            "status": status,
            "duration_ms": round(elapsed * 1000, 3),
            "key_name": key_name(request),
        }
        request_logger.info("%s %s %s", request.method, request.path, status, extra=fields)


# --- scrape-time gauges ---------------------------------------------------------------

# name -> (help, label names). Values come from a reader the owning app provides.
SCRAPE_GAUGES: dict[str, tuple[str, tuple[str, ...]]] = {
    "echopilot_incident_open": ("Incidents open or acknowledged, by severity.", ("severity",)),
    "echopilot_alerts_pending": ("Alerts waiting to be delivered.", ()),
    "echopilot_cost_monthly_usd": ("Projected monthly cost (USD) of the latest cost report.", ()),
}
Reader = Callable[[], dict[tuple[str, ...], float]]
READERS: dict[str, Reader] = {}


def provide(name: str, reader: Reader) -> None:
    """Give the reader of scrape-time gauge `name`: {label values: value}, ({}: no value)."""
    if name not in SCRAPE_GAUGES:
        raise ValueError(f"unknown scrape-time gauge {name!r}; declare it in SCRAPE_GAUGES")
    READERS[name] = reader


class ScrapeCollector:
    """Yield the scrape-time gauges and each schedule's period (for alert rules)."""

    def collect(self) -> Iterator[Metric]:
        for name, reader in READERS.items():
            help_text, labels = SCRAPE_GAUGES[name]
            family = GaugeMetricFamily(name, help_text, labels=labels)
            try:
                values = reader()
            except Exception:
                logger.exception("metrics: reading %s failed", name)
                continue
            for label_values, value in values.items():
                family.add_metric(list(label_values), float(value))
            yield family
        yield self._periods()

    @staticmethod
    def _periods() -> GaugeMetricFamily:
        from echopilot import schedules

        family = GaugeMetricFamily(
            "echopilot_task_period_seconds",
            "Seconds between two runs of each scheduled task.",
            labels=["task"],
        )
        for name, entry in sorted(schedules.REGISTRY.items()):
            family.add_metric([name], entry.period().total_seconds())
        return family


class _ThisProcess:
    """The figures of this process (no PROMETHEUS_MULTIPROC_DIR)."""

    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()


LAST_SUCCESS = "echopilot_task_last_success_timestamp_seconds"


def ledger_successes() -> dict[str, float]:
    """Return {task: Unix time} of each task whose last completed run was ok (run ledger)."""
    from echopilot.models import ScheduleRun

    rows = ScheduleRun.objects.filter(last_ok=True, last_finished_at__isnull=False)
    pairs = rows.values_list("name", "last_finished_at")
    return {name: at.timestamp() for name, at in pairs if at is not None}


def merge_ledger(family: Metric, ledger: dict[str, float]) -> None:
    """Make each task's sample the later of the processes' figure and the ledger's."""
    samples = []
    for s in family.samples:
        task = s.labels.get("task", "")
        samples.append(s._replace(value=max(s.value, ledger.pop(task, 0.0))))
    samples += [Sample(LAST_SUCCESS, {"task": t}, v) for t, v in sorted(ledger.items())]
    family.samples = samples


class _WithLedger:
    """The processes' figures, with each task's last success also taken from the run
    ledger: a restart (an emptied metrics directory) does not forget it."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def collect(self) -> Iterator[Metric]:
        try:
            ledger = ledger_successes()
        except Exception:
            logger.exception("metrics: reading the run ledger failed")
            ledger = {}
        for family in self.inner.collect():
            if family.name == LAST_SUCCESS:
                merge_ledger(family, ledger)
                ledger = {}
            yield family
        if ledger:
            extra = GaugeMetricFamily(
                LAST_SUCCESS, TASK_LAST_SUCCESS._documentation, labels=["task"]
            )
            for task, value in sorted(ledger.items()):
                extra.add_metric([task], value)
            yield extra


def multiproc_dir() -> str:
    # prometheus_client reads the variable when it is imported; so does this.
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")


def exposition() -> bytes:
    """Return every metric in the Prometheus text format (all processes in multiprocess mode)."""
    registry = CollectorRegistry()
    if multiproc_dir():
        from prometheus_client import multiprocess

        inner: Any = multiprocess.MultiProcessCollector(None)
    else:
        inner = _ThisProcess()
    registry.register(_WithLedger(inner))
    registry.register(ScrapeCollector())
    return generate_latest(registry)


def sample(name: str, **labels: str) -> float:
    """Return one figure of this process (0.0 when absent), for tests and checks."""
    return REGISTRY.get_sample_value(name, labels) or 0.0


__all__ = [
    "CONTENT_TYPE",
    "OTHER",
    "RequestMetrics",
    "alert_attempted",
    "digest_reported",
    "events_stored",
    "exposition",
    "exposures_stored",
    "flag_changed",
    "ndjson_write_failed",
    "provide",
    "record_flag_evaluations",
    "task_finished",
]
