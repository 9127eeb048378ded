"""Each scenario against the real Jaeger v2 binary: spans shaped as Istio's Envoy reports them,
sent over OTLP, read back by `mesh-tracing doctor` through the query API under `/jaeger`."""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from doctor.envoy_spans import GATEWAY, Emitter, Workload, request
from doctor.servers import JAEGER_MISSING, Jaeger, jaeger_binary, run_jaeger
from mesh_tracing.plan import cli

BINARY = jaeger_binary()
if BINARY is None:
    pytest.skip(JAEGER_MISSING, allow_module_level=True)

A = Workload("a", "shop")
B = Workload("b", "payments")
C = Workload("c", "payments")
D = Workload("d", "shop")
CRON = Workload("settlement", "batch-jobs")
REQUESTS = 12


@pytest.fixture
def jaeger(tmp_path: Path) -> Iterator[Jaeger]:
    assert BINARY is not None
    with run_jaeger(BINARY, tmp_path / "jaeger") as running:
        yield running


@pytest.fixture
def emitter(jaeger: Jaeger) -> Iterator[Emitter]:
    sender = Emitter(jaeger.otlp_endpoint)
    yield sender
    sender.shutdown()


def past(seconds: float) -> int:
    return time.time_ns() - int(seconds * 1e9)


def doctor(jaeger: Jaeger, *extra: str) -> tuple[int, dict[str, Any], str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    status = cli.run(
        [
            "doctor",
            "--jaeger-url",
            jaeger.query_url,
            "--lookback",
            "10m",
            "--format",
            "json",
            *extra,
        ],
        stdout=stdout,
        stderr=stderr,
    )
    document = json.loads(stdout.getvalue()) if stdout.getvalue() else {}
    return status, document, stderr.getvalue()


def send(emitter: Emitter, jaeger: Jaeger, expected_traces: int, **scenario: Any) -> None:
    """REQUESTS requests of a scenario, spread over the last minutes, then wait until Jaeger
    has them all."""
    for index in range(REQUESTS):
        request(emitter, start_ns=past(300 - index * 10), **scenario)
    emitter.flush()
    wait_for_traces(jaeger, expected_traces)


def wait_for_traces(jaeger: Jaeger, count: int) -> None:
    from mesh_tracing.doctor.jaeger import JaegerClient

    client = JaegerClient(jaeger.query_url)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        services = client.services()
        now = time.time_ns() // 1000
        window = client.read_window(services, now - 600_000_000, now)
        if len(window.traces) >= count:
            return
        time.sleep(0.2)
    raise AssertionError(f"Jaeger did not get {count} traces")


def test_a_healthy_chain_has_no_finding(jaeger: Jaeger, emitter: Emitter) -> None:
    send(emitter, jaeger, REQUESTS, entry=GATEWAY, chain=[A, B, C])

    status, report, stderr = doctor(jaeger)

    assert status == 0, (report, stderr)
    assert report["traces_read"] == REQUESTS
    assert report["spans_read"] == REQUESTS * 7
    assert report["broken_propagation"] == [] and report["orphans"] == []
    assert [
        (start["service"], start["role"], start["traces"]) for start in report["trace_starts"]
    ] == [("istio-ingressgateway.istio-system", "gateway", REQUESTS)]


def test_a_service_dropping_the_headers_is_named_with_its_callee_and_both_halves(
    jaeger: Jaeger, emitter: Emitter
) -> None:
    send(
        emitter,
        jaeger,
        2 * REQUESTS,
        entry=GATEWAY,
        chain=[A, B, C],
        dropping=frozenset({B.service}),
    )

    # Five traces per search: the real API's `limit` makes the doctor split the window.
    status, report, _ = doctor(jaeger, "--limit", "5")

    assert status == 2
    assert report["traces_read"] == 2 * REQUESTS and not report["truncated"]
    (broken,) = report["broken_propagation"]
    assert broken["service"] == "b.payments"
    assert broken["new_traces"] == REQUESTS
    assert broken["inbound_traced_requests"] == REQUESTS
    assert broken["matched"] == REQUESTS
    assert broken["callees"] == {"c.payments": REQUESTS}
    assert len(broken["examples"]) == 3
    for example in broken["examples"]:
        assert example["inbound_trace"] and example["new_trace"]
        assert example["inbound_trace"] != example["new_trace"]
    assert report["orphans"] == []
    assert report["problems"] == 1


def test_a_service_without_sidecar_breaks_nothing_in_the_spans(
    jaeger: Jaeger, emitter: Emitter
) -> None:
    """D has no proxy: it sends no span, but forwards the headers, so the trace holds."""
    send(
        emitter, jaeger, REQUESTS, entry=GATEWAY, chain=[A, D, C], no_sidecar=frozenset({D.service})
    )

    status, report, _ = doctor(jaeger)

    assert status == 0, report
    assert report["broken_propagation"] == [] and report["orphans"] == []
    assert "d.shop" not in json.dumps(report["trace_starts"])


def test_a_job_that_only_originates_traffic_is_not_flagged(
    jaeger: Jaeger, emitter: Emitter
) -> None:
    send(emitter, jaeger, REQUESTS, entry=CRON, chain=[B, C])
    send(emitter, jaeger, 2 * REQUESTS, entry=GATEWAY, chain=[A, B, C])

    status, report, _ = doctor(jaeger)

    assert status == 0, report
    assert report["broken_propagation"] == []
    starts = {
        (start["service"], start["role"]): start["traces"] for start in report["trace_starts"]
    }
    assert starts == {
        ("settlement.batch-jobs", "outbound"): REQUESTS,
        ("istio-ingressgateway.istio-system", "gateway"): REQUESTS,
    }


def test_spans_whose_parent_never_arrived_are_orphans_of_their_service(
    jaeger: Jaeger, emitter: Emitter
) -> None:
    send(
        emitter,
        jaeger,
        REQUESTS,
        entry=GATEWAY,
        chain=[A, B, C],
        lost=frozenset({(A.service, "server")}),
    )
    send(
        emitter,
        jaeger,
        2 * REQUESTS,
        entry=GATEWAY,
        chain=[A, B, C],
        app_spans_elsewhere=frozenset({B.service}),
    )

    status, report, _ = doctor(jaeger)

    assert status == 2
    orphans = {item["service"]: item["spans"] for item in report["orphans"]}
    # A's inbound span was lost: its outbound span's parent is missing. B's app span went to
    # another backend: B's outbound span's parent is missing.
    assert orphans == {"a.shop": REQUESTS, "b.payments": REQUESTS}
    assert report["broken_propagation"] == []


class _Mesh(ThreadingHTTPServer):
    """An HTTP entry point that, like a mesh behind a gateway, continues the request's
    `traceparent` and reports Envoy-shaped spans for gateway -> A -> B -> C."""

    emitter: Emitter
    dropping: frozenset[str]


class _Handler(BaseHTTPRequestHandler):
    server: _Mesh

    def do_GET(self) -> None:
        from opentelemetry.trace import SpanContext, TraceFlags

        _, trace_id, span_id, flags = self.headers["traceparent"].split("-")
        parent = SpanContext(int(trace_id, 16), int(span_id, 16), True, TraceFlags(int(flags, 16)))
        request(
            self.server.emitter,
            GATEWAY,
            [A, B, C],
            time.time_ns(),
            dropping=self.server.dropping,
            remote_parent=parent,
            request_id=self.headers["x-request-id"],
        )
        self.server.emitter.flush()
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def mesh(emitter: Emitter) -> Iterator[_Mesh]:
    server = _Mesh(("127.0.0.1", 0), _Handler)
    server.emitter = emitter
    server.dropping = frozenset()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_the_probe_follows_its_requests_through_every_hop(jaeger: Jaeger, mesh: _Mesh) -> None:
    url = f"http://127.0.0.1:{mesh.server_address[1]}/"

    status, report, stderr = doctor(
        jaeger, "--probe", url, "--expect", "a.shop,b,c", "--probe-wait", "15s"
    )

    assert status == 0, (report, stderr)
    probe = report["probe"]
    assert len(probe["traces"]) == 3
    for item in probe["traces"]:
        assert item["found"] and item["status"] == 200
        assert item["hops"] == [
            "istio-ingressgateway.istio-system",
            "a.shop",
            "b.payments",
            "c.payments",
        ]
        assert item["missing"] == []
    # The gateway continued the probe's context: not an orphan, not a break.
    assert report["orphans"] == [] and report["broken_propagation"] == []


def test_the_probe_fails_when_an_expected_service_is_not_in_the_chain(
    jaeger: Jaeger, mesh: _Mesh
) -> None:
    mesh.dropping = frozenset({B.service})
    url = f"http://127.0.0.1:{mesh.server_address[1]}/"

    status, report, _ = doctor(jaeger, "--probe", url, "--expect", "a,b,c", "--probe-wait", "15s")

    assert status == 2
    for item in report["probe"]["traces"]:
        assert item["hops"] == ["istio-ingressgateway.istio-system", "a.shop", "b.payments"]
        assert item["missing"] == ["c"]


def test_text_and_markdown_reports_name_the_break(jaeger: Jaeger, emitter: Emitter) -> None:
    send(
        emitter,
        jaeger,
        2 * REQUESTS,
        entry=GATEWAY,
        chain=[A, B, C],
        dropping=frozenset({B.service}),
    )
    for output_format, marker in (("text", "b.payments: "), ("markdown", "- `b.payments`: ")):
        stdout, stderr = io.StringIO(), io.StringIO()
        status = cli.run(
            ["doctor", "--jaeger-url", jaeger.query_url, "--format", output_format],
            stdout=stdout,
            stderr=stderr,
        )
        assert status == 2, stderr.getvalue()
        assert marker in stdout.getvalue()
        assert "calls to " in stdout.getvalue()
