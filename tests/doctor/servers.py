"""The real Jaeger v2 and Prometheus binaries, run by the tests on 127.0.0.1 with free ports, and
a small exporter of Istio-shaped request metrics for Prometheus to scrape.

Nothing is built or downloaded here: the binaries are found where the toolchain or a developer
put them, and a test module whose binary is missing is skipped with one `SKIPPED:` line.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Optional

CACHE = Path.home() / ".cache" / "mesh-tracing"
BASE_PATH = "/jaeger"


def jaeger_binary() -> Optional[Path]:
    given = os.environ.get("MESH_TRACING_JAEGER_BIN")
    if given:
        return Path(given) if Path(given).is_file() else None
    for candidate in sorted(glob.glob(str(CACHE / "toolchain" / "*" / "bin" / "jaeger"))):
        return Path(candidate)
    fallback = CACHE / "doctor-bin" / "jaeger"
    return fallback if fallback.is_file() else None


def prometheus_binary() -> Optional[Path]:
    given = os.environ.get("MESH_TRACING_PROMETHEUS_BIN")
    if given:
        return Path(given) if Path(given).is_file() else None
    found = shutil.which("prometheus") or (
        "/usr/bin/prometheus" if Path("/usr/bin/prometheus").is_file() else None
    )
    return Path(found) if found else None


JAEGER_MISSING = (
    "SKIPPED: no Jaeger v2 binary: set MESH_TRACING_JAEGER_BIN, or put it in "
    f"{CACHE}/toolchain/*/bin/jaeger or {CACHE}/doctor-bin/jaeger"
)
PROMETHEUS_MISSING = (
    "SKIPPED: no Prometheus binary: apt-get install prometheus (the tests run /usr/bin/prometheus "
    "themselves), or set MESH_TRACING_PROMETHEUS_BIN"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(url: str, process: subprocess.Popen, log: Path, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"{url}: the process exited ({process.returncode}):\n{log.read_text()}"
            )
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url}: not ready within {seconds:g} s:\n{log.read_text()}")


def _stop(process: subprocess.Popen) -> None:
    # Nothing to keep (memory storage, a temporary directory), and a graceful stop waits
    # seconds for open client connections: killed at once.
    process.kill()
    process.wait()


JAEGER_CONFIG = """\
service:
  extensions: [jaeger_storage, jaeger_query]
  pipelines:
    traces:
      receivers: [otlp]
      processors: []
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
    logs:
      level: warn
extensions:
  jaeger_query:
    base_path: {base_path}
    storage:
      traces: memstore
    http:
      endpoint: 127.0.0.1:{query_port}
    grpc:
      endpoint: 127.0.0.1:{query_grpc_port}
  jaeger_storage:
    backends:
      memstore:
        memory:
          max_traces: 100000
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:{otlp_port}
exporters:
  jaeger_storage_exporter:
    trace_storage: memstore
"""


@dataclass(frozen=True)
class Jaeger:
    query_url: str
    """With the base path, as a port-forward to the stack's `jaeger_ui_url` gives it."""
    otlp_endpoint: str


@contextmanager
def run_jaeger(binary: Path, workdir: Path) -> Iterator[Jaeger]:
    """Jaeger v2 with memory storage, OTLP/gRPC in, the query API under `/jaeger`."""
    workdir.mkdir(parents=True, exist_ok=True)
    ports = {
        "query_port": free_port(),
        "query_grpc_port": free_port(),
        "otlp_port": free_port(),
    }
    config = workdir / "jaeger.yaml"
    config.write_text(JAEGER_CONFIG.format(base_path=BASE_PATH, **ports))
    log = workdir / "jaeger.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [str(binary), "--config", str(config)],
            cwd=workdir,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    query_url = f"http://127.0.0.1:{ports['query_port']}{BASE_PATH}"
    try:
        _wait_for(f"{query_url}/api/services", process, log)
        yield Jaeger(query_url, f"127.0.0.1:{ports['otlp_port']}")
    finally:
        _stop(process)


class RequestCounters:
    """`istio_requests_total` as Istio's stats filter labels it, one counter per label set."""

    LABELS = (
        "reporter",
        "source_workload",
        "source_workload_namespace",
        "source_canonical_service",
        "destination_workload",
        "destination_workload_namespace",
        "destination_canonical_service",
        "destination_service",
        "destination_service_name",
        "destination_service_namespace",
        "request_protocol",
        "response_code",
    )

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: dict[tuple[str, ...], float] = {}

    def add(self, amount: float, **labels: str) -> None:
        key = tuple(labels.get(name, "") for name in self.LABELS)
        with self._lock:
            self._values[key] = self._values.get(key, 0.0) + amount

    def exposition(self) -> str:
        lines = [
            "# HELP istio_requests_total Total requests.",
            "# TYPE istio_requests_total counter",
        ]
        with self._lock:
            for key, value in sorted(self._values.items()):
                labels = ",".join(
                    f"{name}={json.dumps(item)}"
                    for name, item in zip(self.LABELS, key, strict=True)
                )
                lines.append(f"istio_requests_total{{{labels}}} {value}")
        return "\n".join(lines) + "\n"


@contextmanager
def serve_metrics(counters: RequestCounters) -> Iterator[str]:
    """The counters at http://127.0.0.1:PORT/metrics; yields `127.0.0.1:PORT`."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = counters.exposition().encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


PROMETHEUS_CONFIG = """\
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: istio-mesh
    honor_labels: true
    static_configs:
      - targets: ["{target}"]
"""


@contextmanager
def run_prometheus(binary: Path, workdir: Path, target: str) -> Iterator[str]:
    """Prometheus scraping `target` every second; yields its URL. Never the system service."""
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "prometheus.yml"
    config.write_text(PROMETHEUS_CONFIG.format(target=target))
    port = free_port()
    log = workdir / "prometheus.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [
                str(binary),
                f"--config.file={config}",
                f"--storage.tsdb.path={workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--log.level=warn",
            ],
            cwd=workdir,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for(f"{url}/-/ready", process, log)
        yield url
    finally:
        _stop(process)
