"""Telemetry, exactly: the spans and metrics of guest runs on every backend, through both
interfaces, with errors, policy refusals and an outage (docs/observability.md).

The guest is examples/ops_guest (one call of either interface per argument), run in this
process by `run_guest` with a `wasmcache.otel.Telemetry` observer on the SDK's in-memory
exporters (`InMemorySpanExporter` behind a `SimpleSpanProcessor`, `InMemoryMetricReader`),
given to it directly: no global provider is touched. Backends: memory, disk, SQLite, and the
shared PostgreSQL, MariaDB and Redis; the outage runs on private Redis and PostgreSQL servers.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import plugin_helpers
import pytest
from build import build_guest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import Sampler, SamplingResult, TraceIdRatioBased
from opentelemetry.trace import SpanKind, StatusCode
from wasmcache import GuestOptions, GuestTrap, open_backend, run_guest
from wasmcache.otel import Telemetry
from wasmcache.policy import Access, Policy
from wasmcache.runner import make_engine
from wasmcache.testing import unique_namespace

DURATION = "db.client.operation.duration"
RUNS = "wasmcache.guest.runs"
REFUSALS = "wasmcache.policy.refusals"


@dataclass
class InMemoryTelemetry:
    """A `Telemetry` observer and what it exported."""

    exporter: InMemorySpanExporter = field(default_factory=InMemorySpanExporter)
    reader: InMemoryMetricReader = field(default_factory=InMemoryMetricReader)

    def __post_init__(self) -> None:
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.meter_provider = MeterProvider(metric_readers=[self.reader])
        self.observer = Telemetry(self.tracer_provider, self.meter_provider)

    def spans(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def points(self, name: str) -> list[Any]:
        """The data points of metric `name` (empty when it has none)."""
        data = self.reader.get_metrics_data()
        found = []
        for resource in data.resource_metrics if data else ():
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    if metric.name == name:
                        found.extend(metric.data.data_points)
        return found

    def counted(self, name: str) -> dict[frozenset[tuple[str, Any]], int]:
        """A counter's values by attribute set."""
        return {frozenset(point.attributes.items()): point.value for point in self.points(name)}

    def close(self) -> None:
        self.tracer_provider.shutdown()
        self.meter_provider.shutdown()


def call_spans(spans: Iterable[ReadableSpan]) -> list[tuple[str, dict[str, Any], str]]:
    """(name, attributes, status) of each CLIENT span, in the order they ended."""
    return [(span.name, dict(span.attributes or {}), span.status.status_code.name)
            for span in spans if span.kind is SpanKind.CLIENT]


def run_span(spans: list[ReadableSpan]) -> ReadableSpan:
    (run,) = [span for span in spans if span.kind is SpanKind.INTERNAL]
    return run


def expected_call(operation: str, namespace: str, store: dict[str, Any], outcome: str = "ok",
                  extra: dict[str, Any] | None = None) -> tuple[str, dict[str, Any], str]:
    """One CLIENT span as docs/observability.md describes it."""
    attributes = {"db.system.name": store["db.system.name"], "db.operation.name": operation,
                  "db.namespace": namespace, "wasmcache.outcome": outcome,
                  **{k: v for k, v in store.items() if k != "db.system.name"}}
    failed = outcome not in ("ok", "not-found")
    if failed:
        attributes["error.type"] = outcome
    attributes.update(extra or {})
    return (f"{operation} {namespace}", attributes,
            StatusCode.ERROR.name if failed else StatusCode.UNSET.name)


def all_attribute_values(telemetry: InMemoryTelemetry) -> list[str]:
    """Every attribute value exported (spans, their resource, every metric point), as text."""
    values: list[str] = []
    for span in telemetry.spans():
        values += [str(v) for v in (span.attributes or {}).values()]
        values += [str(v) for v in span.resource.attributes.values()]
        values.append(span.name)
    for name in (DURATION, RUNS, REFUSALS):
        for point in telemetry.points(name):
            values += [str(v) for v in point.attributes.values()]
    return values


# --- backends -------------------------------------------------------------------------------
TABLE = f"wasmcache_otel_{uuid.uuid4().hex[:8]}"
PG_BASE = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
MARIADB_BASE = "mysql+pymysql://root@127.0.0.1:3306/test"
#: each backend's URL and the store attributes every one of its call spans carries
BACKENDS: dict[str, tuple[str, dict[str, Any]]] = {
    "memory": ("memory://otel", {"db.system.name": "wasmcache.memory"}),
    "disk": ("disk://{tmp}/store", {"db.system.name": "diskcache"}),
    "sqlite": ("sqlite:///{tmp}/otel.db", {"db.system.name": "sqlite"}),
    "postgresql": (f"{PG_BASE}?table={TABLE}",
                   {"db.system.name": "postgresql", "server.address": "127.0.0.1",
                    "server.port": 5432}),
    "mariadb": (f"{MARIADB_BASE}?table={TABLE}",
                {"db.system.name": "mariadb", "server.address": "127.0.0.1",
                 "server.port": 3306}),
    "redis": (f"redis://127.0.0.1:6379/0?prefix=wasmcache-otel-{uuid.uuid4().hex[:8]}:",
              {"db.system.name": "redis", "server.address": "127.0.0.1", "server.port": 6379}),
}
#: Keys and values the guest writes: none may appear in anything exported.
KEY, VALUE, OTHER_KEY, OTHER_VALUE = "pii-key-alpha", "pii-value-alpha", "pii-key-beta", \
    "pii-value-beta"


@pytest.fixture(scope="module")
def ops_guest() -> Path:
    return build_guest("ops_guest", world="cache-keyvalue-command")


@pytest.fixture(scope="module")
def engine() -> Any:
    return make_engine()


@pytest.fixture(scope="module", params=list(BACKENDS))
def store(request: pytest.FixtureRequest,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, Any]]]:
    """(URL, the store's span attributes) of each backend in turn."""
    url, attributes = BACKENDS[request.param]
    yield url.format(tmp=tmp_path_factory.mktemp(request.param)), attributes
    if request.param in ("postgresql", "mariadb"):
        plugin_helpers.SQL.drop_tables(url.split("?")[0], TABLE)


@pytest.fixture
def telemetry() -> Iterator[InMemoryTelemetry]:
    made = InMemoryTelemetry()
    yield made
    made.close()


def forget(url: str, namespace: str, keys: Iterable[str], buckets: Iterable[str] = ()) -> None:
    """Delete what a test wrote (the shared servers outlive it)."""
    backend = open_backend(url)
    try:
        for space in (namespace, *(f"{namespace}.{bucket}" for bucket in buckets)):
            for key in keys:
                backend.delete(space, key.encode())
    finally:
        backend.close()


def check_metrics_match_spans(telemetry: InMemoryTelemetry) -> None:
    """Each duration point counts exactly the call spans with its attributes (the span's
    attributes less the batch size), and sums their durations: one measurement, two views."""
    expected: dict[frozenset[tuple[str, Any]], list[float]] = {}
    for span in telemetry.spans():
        if span.name.startswith("run "):
            continue
        attributes = {k: v for k, v in (span.attributes or {}).items()
                      if k != "db.operation.batch.size"}
        expected.setdefault(frozenset(attributes.items()), []).append(
            (span.end_time - span.start_time) / 1e9)
    points = {frozenset(point.attributes.items()): point for point in
              telemetry.points(DURATION)}
    assert set(points) == set(expected)
    for attributes, durations in expected.items():
        point = points[attributes]
        assert point.count == len(durations)
        assert math.isclose(point.sum, sum(durations), rel_tol=1e-9, abs_tol=1e-9)
        assert list(point.explicit_bounds) == [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10]


def check_nothing_private(telemetry: InMemoryTelemetry) -> None:
    exported = " ".join(all_attribute_values(telemetry))
    for secret in (KEY, VALUE, OTHER_KEY, OTHER_VALUE):
        assert secret not in exported


# --- both interfaces, results and errors, on every backend ------------------------------------
def test_every_call_of_both_interfaces_is_a_client_span_under_the_run(
        ops_guest: Path, engine: Any, store: tuple[str, dict[str, Any]],
        telemetry: InMemoryTelemetry) -> None:
    url, attributes = store
    namespace = unique_namespace()
    ops = [f"cache.set:{KEY}:{VALUE}", f"cache.get:{KEY}", f"cache.get:{OTHER_KEY}",
           "cache.get:", f"cache.set:{OTHER_KEY}:@1048577",
           f"kv.set:b1:{OTHER_KEY}:{OTHER_VALUE}", f"kv.get-many:b1:{OTHER_KEY},{KEY}",
           f"kv.delete-many:b1:{OTHER_KEY}", "kv.increment:default:n:5",
           f"kv.increment:default:{KEY}:1", f"kv.swap:default:s:{VALUE}",
           f"kv.get:nobucket:{KEY}"]
    options = GuestOptions(namespace=namespace, buckets=("b1",), args=ops,
                           observer=telemetry.observer)
    try:
        status = run_guest(ops_guest, url, options, engine=engine)
    finally:
        forget(url, namespace, [KEY, OTHER_KEY, "n", "s"], ["b1"])
    assert status == 1  # some calls failed, as they were meant to

    b1 = f"{namespace}.b1"
    default, in_b1 = {"wasmcache.bucket": "default"}, {"wasmcache.bucket": "b1"}
    assert call_spans(telemetry.spans()) == [
        expected_call("set", namespace, attributes),
        expected_call("get", namespace, attributes),
        expected_call("get", namespace, attributes, "not-found"),
        expected_call("get", namespace, attributes, "invalid-key"),
        expected_call("set", namespace, attributes, "value-too-large"),
        expected_call("open", b1, attributes, extra=in_b1),
        expected_call("set", b1, attributes, extra=in_b1),
        expected_call("open", b1, attributes, extra=in_b1),
        expected_call("get-many", b1, attributes,
                      extra={**in_b1, "db.operation.batch.size": 2}),
        expected_call("open", b1, attributes, extra=in_b1),
        expected_call("delete-many", b1, attributes, extra=in_b1),  # a batch of one: no size
        expected_call("open", namespace, attributes, extra=default),
        expected_call("increment", namespace, attributes, extra=default),
        expected_call("open", namespace, attributes, extra=default),
        expected_call("increment", namespace, attributes, "bad-request", extra=default),
        expected_call("open", namespace, attributes, extra=default),
        expected_call("cas-new", namespace, attributes, extra=default),
        expected_call("swap", namespace, attributes, extra=default),
        expected_call("open", namespace, attributes, "access-denied",
                      extra={"wasmcache.policy.refusal": "bucket"}),
    ]
    spans = telemetry.spans()
    run = run_span(spans)
    assert run.name == f"run {ops_guest.name}"
    assert dict(run.attributes or {}) == {
        "wasmcache.guest.name": ops_guest.name, "wasmcache.namespace": namespace,
        "wasmcache.backend.scheme": url.split("://")[0], "wasmcache.guest.exit_status": 1}
    assert run.status.status_code is StatusCode.ERROR
    assert run.parent is None
    for span in spans:
        if span is not run:
            assert span.parent is not None and span.parent.span_id == run.context.span_id
            assert span.context.trace_id == run.context.trace_id
            assert run.start_time <= span.start_time <= span.end_time <= run.end_time
    check_metrics_match_spans(telemetry)
    assert telemetry.counted(RUNS) == {frozenset({
        "wasmcache.guest.name": ops_guest.name, "wasmcache.namespace": namespace,
        "wasmcache.guest.exit_status": 1}.items()): 1}
    assert telemetry.counted(REFUSALS) == {frozenset({
        "wasmcache.policy.refusal": "bucket", "db.operation.name": "open",
        "db.namespace": namespace}.items()): 1}
    check_nothing_private(telemetry)


# --- policy refusals -----------------------------------------------------------------------------
def test_policy_refusals_carry_their_reason_and_are_counted(
        ops_guest: Path, engine: Any, store: tuple[str, dict[str, Any]],
        telemetry: InMemoryTelemetry) -> None:
    url, attributes = store
    namespace = unique_namespace()
    reader = Policy(access=Access.READ_ONLY, key_prefixes=("pii-key-a",))
    options = GuestOptions(namespace=namespace, policy=reader, args=[
        f"cache.get:{KEY}", f"cache.set:{KEY}:{VALUE}", f"cache.get:{OTHER_KEY}",
        f"kv.get-many:default:{KEY},{OTHER_KEY}"], observer=telemetry.observer)
    assert run_guest(ops_guest, url, options, engine=engine) == 1

    default = {"wasmcache.bucket": "default"}
    assert call_spans(telemetry.spans()) == [
        expected_call("get", namespace, attributes, "not-found"),
        expected_call("set", namespace, attributes, "access-denied",
                      extra={"wasmcache.policy.refusal": "read-only"}),
        expected_call("get", namespace, attributes, "access-denied",
                      extra={"wasmcache.policy.refusal": "key-prefix"}),
        expected_call("open", namespace, attributes, extra=default),
        expected_call("get-many", namespace, attributes, "access-denied",
                      extra={**default, "wasmcache.policy.refusal": "key-prefix",
                             "db.operation.batch.size": 2}),
    ]
    check_metrics_match_spans(telemetry)
    refused = {"db.namespace": namespace}
    assert telemetry.counted(REFUSALS) == {
        frozenset({**refused, "wasmcache.policy.refusal": "read-only",
                   "db.operation.name": "set"}.items()): 1,
        frozenset({**refused, "wasmcache.policy.refusal": "key-prefix",
                   "db.operation.name": "get"}.items()): 1,
        frozenset({**refused, "wasmcache.policy.refusal": "key-prefix",
                   "db.operation.name": "get-many"}.items()): 1,
    }
    check_nothing_private(telemetry)


# --- an outage ----------------------------------------------------------------------------------
@pytest.fixture(params=["redis", "postgresql"])
def stopped_server(request: pytest.FixtureRequest,
                   tmp_path: Path) -> Iterator[tuple[str, dict[str, Any], Any]]:
    """(URL, store attributes, the backend opened while the server was up) of a private
    server that has been stopped since."""
    if request.param == "redis":
        server = plugin_helpers.REDIS.RedisProcess(tmp_path / "redis").start()
        port, stop = server.port, server.stop
        url = (f"redis://127.0.0.1:{port}/0?socket_connect_timeout=1&socket_timeout=1")
        attributes = {"db.system.name": "redis"}
    else:
        server = plugin_helpers.SQL_SERVERS.PrivatePostgres()
        server.start()
        port = server.port
        url = f"{server.url}?connect_timeout=2"

        def stop() -> None:
            server.stop()
            server.remove()

        attributes = {"db.system.name": "postgresql"}
    attributes.update({"server.address": "127.0.0.1", "server.port": port})
    try:
        backend = open_backend(url)
        try:
            assert backend.get("warm-up", b"k") is None  # connected while it was up
            stop()
            yield url, attributes, backend
        finally:
            backend.close()
    finally:
        stop()


def test_calls_answered_unavailable_carry_it(
        ops_guest: Path, engine: Any, stopped_server: tuple[str, dict[str, Any], Any],
        telemetry: InMemoryTelemetry) -> None:
    url, attributes, backend = stopped_server
    namespace = unique_namespace()
    options = GuestOptions(namespace=namespace, args=[
        f"cache.get:{KEY}", f"kv.set:default:{KEY}:{VALUE}"], observer=telemetry.observer)
    assert run_guest(ops_guest, backend, options, engine=engine) == 1

    default = {"wasmcache.bucket": "default"}
    assert call_spans(telemetry.spans()) == [
        expected_call("get", namespace, attributes, "unavailable"),
        expected_call("open", namespace, attributes, extra=default),
        expected_call("set", namespace, attributes, "unavailable", extra=default),
    ]
    run = run_span(telemetry.spans())
    assert dict(run.attributes or {}) == {  # a Backend object: no URL, so no scheme
        "wasmcache.guest.name": ops_guest.name, "wasmcache.namespace": namespace,
        "wasmcache.guest.exit_status": 1}
    check_metrics_match_spans(telemetry)
    assert url  # the URL named the private server the attributes point at


# --- runs that end without an exit status --------------------------------------------------
@pytest.mark.parametrize(("guest", "error"), [("trap", "GuestTrap"), ("loop", "GuestTimeout")])
def test_a_trapped_or_stopped_run_carries_its_error_type(
        wat_guest: Any, telemetry: InMemoryTelemetry, guest: str, error: str) -> None:
    wasm = wat_guest(guest)
    options = GuestOptions(namespace="trapped", profile="hostile", timeout=0.5,
                           observer=telemetry.observer)
    with pytest.raises(GuestTrap):
        run_guest(wasm, "memory://", options)
    run = run_span(telemetry.spans())
    assert dict(run.attributes or {}) == {
        "wasmcache.guest.name": wasm.name, "wasmcache.namespace": "trapped",
        "wasmcache.profile": "hostile", "wasmcache.backend.scheme": "memory",
        "error.type": error}
    assert (run.status.status_code, run.status.description) == (StatusCode.ERROR, error)
    assert not run.events  # no exception event: its message could carry what the guest sent
    assert telemetry.counted(RUNS) == {frozenset({
        "wasmcache.guest.name": wasm.name, "wasmcache.namespace": "trapped",
        "wasmcache.profile": "hostile", "error.type": error}.items()): 1}


# --- only what was asked for -------------------------------------------------------------------
def test_without_traces_no_span_at_all_and_no_exemplar(ops_guest: Path, engine: Any) -> None:
    made = InMemoryTelemetry()
    made.observer = Telemetry(made.tracer_provider, made.meter_provider, traces=False)
    options = GuestOptions(namespace=unique_namespace(), args=["cache.get:k"],
                           observer=made.observer)
    try:
        assert run_guest(ops_guest, "memory://", options, engine=engine) == 1
        assert made.spans() == []
        (point,) = made.points(DURATION)
        assert point.count == 1 and point.attributes["wasmcache.outcome"] == "not-found"
        assert point.exemplars == []  # no span was sent, so none is pointed at
        assert sum(made.counted(RUNS).values()) == 1
    finally:
        made.close()


def test_without_metrics_spans_only(ops_guest: Path, engine: Any) -> None:
    made = InMemoryTelemetry()
    made.observer = Telemetry(made.tracer_provider, made.meter_provider, metrics=False)
    options = GuestOptions(namespace=unique_namespace(), args=["cache.get:k"],
                           observer=made.observer)
    try:
        assert run_guest(ops_guest, "memory://", options, engine=engine) == 1
        assert [span.name for span in made.spans()] == [f"get {options.namespace}",
                                                        f"run {ops_guest.name}"]
        assert made.points(DURATION) == [] and made.points(RUNS) == []
    finally:
        made.close()


class CountingSampler(Sampler):
    """The SDK's ratio sampler (per trace), counting the spans it was asked about."""

    def __init__(self, ratio: float) -> None:
        self.inner = TraceIdRatioBased(ratio)
        self.asked: list[str] = []

    def should_sample(self, parent_context: Any, trace_id: int, name: str, *args: Any,
                      **kwargs: Any) -> SamplingResult:
        self.asked.append(name)
        return self.inner.should_sample(parent_context, trace_id, name, *args, **kwargs)

    def get_description(self) -> str:
        return "counting"


@pytest.mark.parametrize("ratio", [0.0, 1.0])
def test_a_run_sampled_out_starts_no_call_span(ops_guest: Path, engine: Any,
                                               ratio: float) -> None:
    sampler = CountingSampler(ratio)
    made = InMemoryTelemetry()
    made.tracer_provider = TracerProvider(sampler=sampler)
    made.tracer_provider.add_span_processor(SimpleSpanProcessor(made.exporter))
    made.observer = Telemetry(made.tracer_provider, made.meter_provider)
    namespace = unique_namespace()
    options = GuestOptions(namespace=namespace, args=["cache.get:k", "cache.delete:k"],
                           observer=made.observer)
    try:
        assert run_guest(ops_guest, "memory://", options, engine=engine) == 1
        run, get, delete = f"run {ops_guest.name}", f"get {namespace}", f"delete {namespace}"
        if ratio:
            assert sampler.asked == [run, get, delete]
            assert [span.name for span in made.spans()] == [get, delete, run]
        else:
            assert sampler.asked == [run]  # the calls' spans were not even started
            assert made.spans() == []
        (point,) = [p for p in made.points(DURATION) if p.attributes["db.operation.name"] ==
                    "get"]
        assert point.count == 1  # measured either way
    finally:
        made.close()
