"""An OTLP/HTTP receiver that accepts and drops everything, for timing telemetry when on.

    .venv/bin/python -m bench.otlp_sink [PORT]      # default 4318, loopback only

Then, in another shell, telemetry on (A) against off (B) in one run of paired rounds:

    .venv/bin/python -m bench.versus --other .venv/bin/wasmcache \\
        --env-a OTEL_TRACES_EXPORTER=otlp --env-a OTEL_METRICS_EXPORTER=otlp \\
        --env-a OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318

A real collector does more with what it receives; here the host's own cost is what is timed
(the spans are still encoded and sent by the SDK's batch processor, in its own thread).
"""

from __future__ import annotations

import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class _Drop(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        """Silent."""


def main(argv: list[str]) -> None:
    port = int(argv[0]) if argv else 4318
    server = ThreadingHTTPServer(("127.0.0.1", port), _Drop)
    print(f"OTLP sink on http://127.0.0.1:{port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main(sys.argv[1:])
