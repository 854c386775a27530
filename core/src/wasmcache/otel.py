"""OpenTelemetry for guest runs and guest calls: `Telemetry`, an observer (`wasmcache.observe`).

Needs the ``otel`` extra (``pip install 'wasmcache[otel]'``); nothing else in wasmcache imports
this module unless telemetry is on (`wasmcache.telemetry`). docs/observability.md lists every
span, attribute and metric. A call's span is made from the session's one measurement of it
(`wasmcache.observe.Call`), after the call: the same numbers ``--stats`` reads, and a span
never carries a key or a value, only the namespace, the operation and the outcome.
"""

from __future__ import annotations

import copy
import importlib.metadata
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from typing import Any

from opentelemetry import metrics as otel_metrics
from opentelemetry import trace
from opentelemetry.metrics import get_meter
from opentelemetry.sdk.metrics import MeterProvider as SdkMeterProvider
from opentelemetry.sdk.trace import TracerProvider as SdkTracerProvider
from opentelemetry.trace import (
    INVALID_SPAN,
    SpanKind,
    Status,
    StatusCode,
    get_current_span,
    set_span_in_context,
)

from .backend import StoreDescription
from .errors import WasmcacheError
from .observe import Call
from .telemetry import asked

SCOPE = "wasmcache"
#: The semantic conventions these names follow (the stable database conventions).
SCHEMA_URL = "https://opentelemetry.io/schemas/1.33.0"
#: The buckets the database conventions give db.client.operation.duration (seconds).
DURATION_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10)
#: Outcomes that are results, not errors: a missing key is an answer.
RESULTS = frozenset({"ok", "not-found"})
#: A backend without `describe` (a third-party one, say).
UNDESCRIBED = StoreDescription(system="other")
#: How many distinct attribute sets one bound observer keeps built (they are few in practice:
#: operations x namespaces x outcomes).
CACHE_LIMIT = 4096
ERROR = Status(StatusCode.ERROR)

# The attribute names (docs/observability.md).
DB_SYSTEM = "db.system.name"
DB_OPERATION = "db.operation.name"
DB_NAMESPACE = "db.namespace"
DB_BATCH_SIZE = "db.operation.batch.size"
SERVER_ADDRESS = "server.address"
SERVER_PORT = "server.port"
ERROR_TYPE = "error.type"
OUTCOME = "wasmcache.outcome"
BUCKET = "wasmcache.bucket"
REFUSAL = "wasmcache.policy.refusal"
GUEST = "wasmcache.guest.name"
NAMESPACE = "wasmcache.namespace"
PROFILE = "wasmcache.profile"
SCHEME = "wasmcache.backend.scheme"
EXIT_STATUS = "wasmcache.guest.exit_status"

Attributes = dict[str, Any]


class Telemetry:
    """An observer that turns every guest call into a CLIENT span and a duration measurement,
    and (`run_span`) every guest run into a span with the calls under it.

    Spans and metrics go to the given providers, by default the global ones (those an
    embedder or ``opentelemetry-instrument`` set up, or `start_from_environment`). A
    session binds it to its backend (`bind`), so each call names the store it went to.
    ``traces=False`` (``metrics=False``) makes no call spans (no measurements): a span costs
    the SDK far more than a measurement, so metrics alone are much cheaper.
    """

    def __init__(self, tracer_provider: trace.TracerProvider | None = None,
                 meter_provider: otel_metrics.MeterProvider | None = None, *,
                 traces: bool = True, metrics: bool = True) -> None:
        self._traces, self._metrics = traces, metrics
        version = importlib.metadata.version("wasmcache")
        self._tracer = trace.get_tracer(SCOPE, version, tracer_provider, SCHEMA_URL)
        meter = get_meter(SCOPE, version, meter_provider, SCHEMA_URL)
        self._duration = meter.create_histogram(
            "db.client.operation.duration", unit="s",
            description="Duration of guest calls to the cache, as the host answered them.",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS)
        self._runs = meter.create_counter(
            "wasmcache.guest.runs", unit="{run}",
            description="Guest runs, by how they ended.")
        self._refusals = meter.create_counter(
            "wasmcache.policy.refusals", unit="{refusal}",
            description="Guest calls the policy refused, by reason.")
        self._describe: Callable[[], StoreDescription] = lambda: UNDESCRIBED
        self._store: StoreDescription | None = None
        self._built: dict[tuple[Any, ...], tuple[Any, ...]] = {}

    # --- calls ----------------------------------------------------------------------------
    def bind(self, backend: Any) -> Telemetry:
        """This telemetry for a session over `backend`: the same instruments, with the store
        the backend describes (`Backend.describe`; "other" without it)."""
        bound = copy.copy(self)
        describe = getattr(backend, "describe", None)
        bound._describe = describe if callable(describe) else (lambda: UNDESCRIBED)
        bound._store = None
        bound._built = {}
        return bound

    def record(self, call: Call) -> None:
        store = self._describe()
        if store is not self._store:  # asked per call: MariaDB is known only once connected
            self._store = store
            self._built = {}
        key = (call.operation, call.namespace, call.bucket, call.outcome, call.refusal,
               call.batch_size)
        built = self._built.get(key)
        if built is None:
            built = self._build(call, store)
            if len(self._built) >= CACHE_LIMIT:
                self._built.clear()
            self._built[key] = built
        name, span_attributes, metric_attributes, failed, refusal_attributes = built
        context = None
        if self._traces and _parent_sampled():
            span = self._tracer.start_span(name, kind=SpanKind.CLIENT,
                                           attributes=span_attributes, start_time=call.start_ns)
            if failed:
                span.set_status(ERROR)
            span.end(call.start_ns + call.duration_ns)
            context = set_span_in_context(span)  # an exemplar points at this call, not the run
        if self._metrics:
            self._duration.record(call.duration_ns / 1e9, metric_attributes, context)
            if refusal_attributes is not None:
                self._refusals.add(1, refusal_attributes, context)

    @staticmethod
    def _build(call: Call, store: StoreDescription) -> tuple[Any, ...]:
        """(span name, span attributes, metric attributes, failed, refusal attributes)."""
        metric: Attributes = {DB_SYSTEM: store.system, DB_OPERATION: call.operation,
                              DB_NAMESPACE: call.namespace, OUTCOME: call.outcome}
        if store.address is not None:
            metric[SERVER_ADDRESS] = store.address
        if store.port is not None:
            metric[SERVER_PORT] = store.port
        failed = call.outcome not in RESULTS
        if failed:
            metric[ERROR_TYPE] = call.outcome
        if call.bucket is not None:
            metric[BUCKET] = call.bucket
        refusal = None
        if call.refusal is not None:
            metric[REFUSAL] = call.refusal
            refusal = {REFUSAL: call.refusal, DB_OPERATION: call.operation,
                       DB_NAMESPACE: call.namespace}
        span = dict(metric)
        # The conventions: a batch of one operation is a single operation; an empty one is 0.
        if call.batch_size is not None and call.batch_size != 1:
            span[DB_BATCH_SIZE] = call.batch_size
        return f"{call.operation} {call.namespace}", span, metric, failed, refusal

    # --- runs -----------------------------------------------------------------------------
    @contextmanager
    def run_span(self, attributes: Attributes) -> Iterator[RunSpan]:
        """The span of one guest run, current while the guest runs (its calls' parent)."""
        name = f"run {attributes.get(GUEST, 'guest')}"
        counted = {k: v for k, v in attributes.items() if k in (GUEST, PROFILE, NAMESPACE)}
        started = (self._tracer.start_as_current_span(
            name, kind=SpanKind.INTERNAL, attributes=attributes, record_exception=False,
            set_status_on_exception=False) if self._traces
            else nullcontext(INVALID_SPAN))  # and no exemplar points at a span never sent
        with started as span:
            ended = RunSpan()
            try:
                yield ended
            except BaseException as exc:
                error = type(exc).__name__  # GuestTrap, GuestTimeout, WasmcacheError, ...
                span.set_attribute(ERROR_TYPE, error)
                span.set_status(Status(StatusCode.ERROR, error))
                if self._metrics:
                    self._runs.add(1, {**counted, ERROR_TYPE: error})
                raise
            if ended.status is not None:
                span.set_attribute(EXIT_STATUS, ended.status)
                if ended.status != 0:
                    span.set_status(Status(StatusCode.ERROR,
                                           f"the guest exited with status {ended.status}"))
                counted[EXIT_STATUS] = ended.status
            if self._metrics:
                self._runs.add(1, counted)


def _parent_sampled() -> bool:
    """False when the current span (the run's) was sampled out: every sampler of the SDK
    decides once per trace, so its calls would be too, and a span that records nothing still
    costs the SDK most of what a recorded one does. True when there is no parent."""
    parent = get_current_span().get_span_context()
    return not parent.is_valid or parent.trace_flags.sampled


class RunSpan:
    """What a run's code tells its span: the guest's exit status."""

    status: int | None = None

    def exited(self, status: int) -> int:
        self.status = status
        return status


# --- the command line's providers -----------------------------------------------------------
def start_from_environment() -> tuple[Telemetry, list[Any]]:
    """The command line's telemetry, on the global providers set up from the OTEL_* variables
    (OpenTelemetry's own configurator, as ``opentelemetry-instrument`` does) unless someone
    already did; with spans only if OTEL_TRACES_EXPORTER asks, measurements only if
    OTEL_METRICS_EXPORTER does.

    Returns it and the providers made here, for `shutdown`. Console exporters write to stderr
    (stdout is the guest's); OTLP speaks http/protobuf unless OTEL_EXPORTER_OTLP_PROTOCOL says
    otherwise. A variable the SDK cannot follow is a `WasmcacheError`.
    """
    if isinstance(trace.get_tracer_provider(), SdkTracerProvider) or isinstance(
            otel_metrics.get_meter_provider(), SdkMeterProvider):
        return Telemetry(), []  # theirs: used as they are, shut down by whoever made them
    providers = _configure()
    return Telemetry(traces=asked("OTEL_TRACES_EXPORTER"),
                     metrics=asked("OTEL_METRICS_EXPORTER")), providers


def _configure() -> list[Any]:
    """The SDK's configurator, run once; the global providers it set."""
    from opentelemetry.distro import OpenTelemetryConfigurator
    from opentelemetry.sdk.metrics.export import ConsoleMetricExporter
    from opentelemetry.sdk.trace.export import ConsoleSpanExporter

    # The specification's default protocol; the Python SDK's own is gRPC, an extra package.
    os.environ.setdefault("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
    try:
        OpenTelemetryConfigurator().configure(exporter_args_map={
            ConsoleSpanExporter: {"out": sys.stderr},
            ConsoleMetricExporter: {"out": sys.stderr},
        })
    except Exception as exc:  # noqa: BLE001 - the SDK's RuntimeError/ValueError/ImportError
        raise WasmcacheError(f"OpenTelemetry cannot start from the OTEL_* variables: "
                             f"{' '.join(str(exc).split())} (see docs/observability.md)"
                             ) from None
    return [trace.get_tracer_provider(), otel_metrics.get_meter_provider()]


def shutdown(providers: list[Any]) -> None:
    """Export what is pending and stop `providers` (a short run's spans leave now, not at a
    batch's timer)."""
    for provider in providers:
        provider.shutdown()
