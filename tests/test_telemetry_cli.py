"""Telemetry from the command line: ``wasmcache run`` exporting OTLP over HTTP to a receiver on
loopback, the console exporter, when it is off (nothing imported, nothing timed), a bad OTEL_*
variable, a missing extra, and providers someone else set up (docs/observability.md).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from build import build_guest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span
from wasmcache.testing import unique_namespace

PASSWORD = "Pa55-w0rd-otel-e2e-7f3c"
KEY, VALUE = "pii-key-e2e", "pii-value-e2e"
TABLE = f"wasmcache_otel_{uuid.uuid4().hex[:8]}"
#: PostgreSQL trusts loopback here, so the password in the URL is accepted and never checked:
#: it only has to stay out of everything exported.
PG_URL = f"postgresql+psycopg://postgres:{PASSWORD}@127.0.0.1:5432/test?table={TABLE}"
OTEL_VARIABLES = [name for name in os.environ if name.startswith("OTEL_")]


@pytest.fixture(scope="module")
def ops_guest() -> Path:
    return build_guest("ops_guest", world="cache-keyvalue-command")


@pytest.fixture
def otel_env() -> dict[str, str]:
    """The OTEL_* variables of this test only (the outer environment's are dropped)."""
    return {name: "" for name in OTEL_VARIABLES}


# --- an OTLP/HTTP receiver on loopback ---------------------------------------------------------
class Receiver(ThreadingHTTPServer):
    """Accepts OTLP/HTTP exports and keeps each (path, content type, raw body)."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.received: list[tuple[str, str, bytes]] = []
        self.lock = threading.Lock()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def bodies(self, path: str) -> list[bytes]:
        with self.lock:
            return [body for got, _, body in self.received if got == path]


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with self.server.lock:
            self.server.received.append((self.path, self.headers.get("Content-Type", ""), body))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        """Quiet: the test reads what arrived."""


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _attributes(items: Any) -> dict[str, Any]:
    """OTLP KeyValues as a dict of plain values."""
    out = {}
    for item in items:
        assert isinstance(item, KeyValue)
        value = item.value
        out[item.key] = getattr(value, value.WhichOneof("value"))
    return out


def _drop_table() -> None:
    import sqlalchemy

    engine = sqlalchemy.create_engine(PG_URL.split("?")[0])
    with engine.begin() as conn:
        for table in (TABLE, f"{TABLE}_schema"):
            conn.execute(sqlalchemy.text(f"DROP TABLE IF EXISTS {table}"))
    engine.dispose()


def test_run_exports_otlp_over_http_and_nothing_private(run_cli, ops_guest: Path,
                                                       receiver: Receiver,
                                                       otel_env: dict[str, str]) -> None:
    namespace = unique_namespace()
    env = {**otel_env, "OTEL_TRACES_EXPORTER": "otlp", "OTEL_METRICS_EXPORTER": "otlp",
           "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
           "OTEL_SERVICE_NAME": "wasmcache-e2e"}
    for name in [name for name, value in env.items() if value == ""]:
        del env[name]  # the protocol too: http/protobuf is wasmcache's default
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    try:
        done = subprocess.run(
            [str(Path(sys.executable).with_name("wasmcache")), "run", "--stats", "-b", PG_URL,
             "-n", namespace, str(ops_guest), f"cache.set:{KEY}:{VALUE}", f"cache.get:{KEY}",
             f"kv.get:default:{KEY}", f"cache.delete:{KEY}"],
            env={**full_env, **env}, capture_output=True, text=True, timeout=120)
    finally:
        _drop_table()
    assert done.returncode == 0, done.stderr
    assert done.stdout == (f"cache.set:{KEY}:{VALUE}: ok\ncache.get:{KEY}: '{VALUE}'\n"
                           f"kv.get:default:{KEY}: '{VALUE}'\ncache.delete:{KEY}: ok\n")
    assert done.stderr.startswith("wasmcache stats:\n")  # --stats reads the same calls

    # what arrived: protobuf over HTTP at the standard paths, and not one private byte
    assert {(path, kind) for path, kind, _ in receiver.received} == {
        ("/v1/traces", "application/x-protobuf"), ("/v1/metrics", "application/x-protobuf")}
    for _, _, body in receiver.received:
        for secret in (PASSWORD, KEY, VALUE, "postgres:"):
            assert secret.encode() not in body

    spans: list[Span] = []
    for body in receiver.bodies("/v1/traces"):
        request = ExportTraceServiceRequest.FromString(body)
        for resource_spans in request.resource_spans:
            assert _attributes(resource_spans.resource.attributes)["service.name"] == \
                "wasmcache-e2e"
            for scope_spans in resource_spans.scope_spans:
                assert scope_spans.scope.name == "wasmcache"
                spans.extend(scope_spans.spans)
    (run,) = [span for span in spans if span.kind == Span.SPAN_KIND_INTERNAL]
    assert run.name == f"run {ops_guest.name}"
    assert _attributes(run.attributes) == {
        "wasmcache.guest.name": ops_guest.name, "wasmcache.namespace": namespace,
        "wasmcache.profile": "(default)", "wasmcache.backend.scheme": "postgresql+psycopg",
        "wasmcache.guest.exit_status": 0}
    calls = [span for span in spans if span.kind == Span.SPAN_KIND_CLIENT]
    assert [span.name for span in calls] == [f"{op} {namespace}" for op in
                                            ("set", "get", "open", "get", "delete")]
    store = {"db.system.name": "postgresql", "server.address": "127.0.0.1",
             "server.port": 5432, "db.namespace": namespace, "wasmcache.outcome": "ok"}
    assert _attributes(calls[0].attributes) == {**store, "db.operation.name": "set"}
    assert _attributes(calls[3].attributes) == {**store, "db.operation.name": "get",
                                                "wasmcache.bucket": "default"}
    for span in calls:
        assert span.parent_span_id == run.span_id and span.trace_id == run.trace_id

    metrics: dict[str, Any] = {}
    for body in receiver.bodies("/v1/metrics"):
        request = ExportMetricsServiceRequest.FromString(body)
        for resource_metrics in request.resource_metrics:
            for scope_metrics in resource_metrics.scope_metrics:
                for metric in scope_metrics.metrics:
                    metrics[metric.name] = metric
    assert set(metrics) == {"db.client.operation.duration", "wasmcache.guest.runs"}
    duration = metrics["db.client.operation.duration"]
    assert duration.unit == "s"
    counts = {_attributes(point.attributes)["db.operation.name"]: point.count
              for point in duration.histogram.data_points
              if "wasmcache.bucket" not in _attributes(point.attributes)}
    assert counts == {"set": 1, "get": 1, "delete": 1}
    (runs,) = metrics["wasmcache.guest.runs"].sum.data_points
    assert runs.as_int == 1
    assert _attributes(runs.attributes)["wasmcache.guest.exit_status"] == 0


# --- console, off, disabled, misconfigured, not installed ---------------------------------------
def test_console_exporter_writes_to_stderr_and_leaves_stdout_to_the_guest(
        run_cli, ops_guest: Path, otel_env: dict[str, str]) -> None:
    namespace = unique_namespace()
    done = run_cli("run", "-b", "memory://", "-n", namespace, str(ops_guest), "cache.get:k",
                   env={**otel_env, "OTEL_TRACES_EXPORTER": "console"})
    assert done.returncode == 1, done.stderr  # the guest's own: its one call failed
    assert done.stdout == "cache.get:k: error not-found\n"
    assert f'"name": "get {namespace}"' in done.stderr
    assert '"db.system.name": "wasmcache.memory"' in done.stderr
    assert '"wasmcache.outcome": "not-found"' in done.stderr
    assert f'"name": "run {ops_guest.name}"' in done.stderr
    assert "resource_metrics" not in done.stderr  # spans were asked for, metrics were not


def test_metrics_alone_make_no_spans(run_cli, ops_guest: Path,
                                    otel_env: dict[str, str]) -> None:
    done = run_cli("run", "-b", "memory://", str(ops_guest), "cache.set:k:v",
                   env={**otel_env, "OTEL_METRICS_EXPORTER": "console"})
    assert done.returncode == 0, done.stderr
    exported = json.loads(done.stderr)  # one document: the metrics, at the end of the run
    names = [metric["name"] for resource in exported["resource_metrics"]
             for scope in resource["scope_metrics"] for metric in scope["metrics"]]
    assert names == ["db.client.operation.duration", "wasmcache.guest.runs"]
    (point,) = exported["resource_metrics"][0]["scope_metrics"][0]["metrics"][0]["data"][
        "data_points"]
    assert point["count"] == 1 and point["attributes"]["db.operation.name"] == "set"


MODULES_AFTER_A_RUN = """
import sys
from wasmcache.cli import main
sys.argv = ["wasmcache", "run", "-b", "memory://", sys.argv[1], "cache.set:k:v"]
try:
    main()
except SystemExit:
    pass
loaded = sorted(name for name in sys.modules if name.startswith("opentelemetry"))
print("otel modules:", loaded[:3], file=sys.stderr)
"""


@pytest.mark.parametrize("env", [{}, {"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER":
                                      "console", "OTEL_METRICS_EXPORTER": "console"},
                                 {"OTEL_TRACES_EXPORTER": "none"}],
                         ids=["unset", "sdk-disabled", "exporter-none"])
def test_off_imports_nothing_of_opentelemetry(ops_guest: Path, tmp_path: Path,
                                              otel_env: dict[str, str],
                                              env: dict[str, str]) -> None:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    done = subprocess.run([sys.executable, "-c", MODULES_AFTER_A_RUN, str(ops_guest)],
                          env={**full_env, **env}, cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    assert done.stdout == "cache.set:k:v: ok\n"
    assert done.stderr == "otel modules: []\n"


def test_an_exporter_that_does_not_exist_is_one_line_and_exit_2(
        run_cli, ops_guest: Path, otel_env: dict[str, str]) -> None:
    done = run_cli("run", "-b", "memory://", str(ops_guest), "cache.get:k",
                   env={**otel_env, "OTEL_TRACES_EXPORTER": "no-such-exporter"})
    assert done.returncode == 2
    assert done.stdout == ""  # the guest never ran
    assert done.stderr.count("\n") == 1
    assert done.stderr.startswith("wasmcache: error: OpenTelemetry cannot start from the "
                                  "OTEL_* variables: ")
    assert "no-such-exporter" in done.stderr and "docs/observability.md" in done.stderr


def test_without_the_extra_the_run_goes_on_with_one_warning(
        run_cli, ops_guest: Path, tmp_path: Path, otel_env: dict[str, str]) -> None:
    """A regular package named `opentelemetry` first on the path hides the installed one, as
    when the extra is not installed (in the child process only)."""
    shadow = tmp_path / "shadow" / "opentelemetry"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("")
    done = run_cli("run", "-b", "memory://", str(ops_guest), "cache.set:k:v",
                   env={**otel_env, "OTEL_METRICS_EXPORTER": "otlp",
                        "PYTHONPATH": str(shadow.parent)})
    assert done.returncode == 0
    assert done.stdout == "cache.set:k:v: ok\n"
    assert done.stderr == ("wasmcache: WARNING: OTEL_METRICS_EXPORTER is set but "
                           "OpenTelemetry is not installed, so nothing is exported: "
                           "pip install 'wasmcache[otel]'\n")


# --- providers someone else set up --------------------------------------------------------------
THEIR_PROVIDERS = """
import json, sys
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
exporter, reader = InMemorySpanExporter(), InMemoryMetricReader()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(provider)
metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))

from wasmcache.cli import main
sys.argv = ["wasmcache", "run", "-b", "memory://", "-n", "theirs", sys.argv[1], "cache.set:k:v"]
try:
    main()
except SystemExit as exc:
    code = exc.code
names = [span.name for span in exporter.get_finished_spans()]
data = reader.get_metrics_data()
metric_names = sorted(m.name for r in data.resource_metrics for s in r.scope_metrics
                      for m in s.metrics)
print(json.dumps({"code": code, "spans": names, "metrics": metric_names}), file=sys.stderr)
"""


def test_providers_set_up_by_the_embedder_are_used_as_they_are(
        ops_guest: Path, tmp_path: Path) -> None:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    done = subprocess.run([sys.executable, "-c", THEIR_PROVIDERS, str(ops_guest)],
                          env={**full_env, "OTEL_TRACES_EXPORTER": "console"}, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.stdout == "cache.set:k:v: ok\n"
    # theirs, not a console exporter of ours: the only line on stderr is the script's
    assert json.loads(done.stderr) == {
        "code": 0, "spans": ["set theirs", f"run {ops_guest.name}"],
        "metrics": ["db.client.operation.duration", "wasmcache.guest.runs"]}
