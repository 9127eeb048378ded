"""The checks that need Istio's request metrics, against the real Jaeger v2 and Debian's real
Prometheus. Each scenario is a small mesh run live for a few seconds: its proxies count requests
in `istio_requests_total` (served by an exporter that Prometheus scrapes every second) and send
the sampled traces, shaped as Envoy's, to Jaeger. The scenarios run side by side, each with its
own Jaeger, Prometheus and exporter, so the whole module takes about one scenario's time."""

from __future__ import annotations

import io
import itertools
import json
import os
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any, Optional

import pytest

from doctor.envoy_spans import GATEWAY, Emitter, Workload, request
from doctor.servers import (
    JAEGER_MISSING,
    PROMETHEUS_MISSING,
    RequestCounters,
    jaeger_binary,
    prometheus_binary,
    run_jaeger,
    run_prometheus,
    serve_metrics,
)
from mesh_tracing.plan import cli

JAEGER = jaeger_binary()
PROMETHEUS = prometheus_binary()
if JAEGER is None:
    pytest.skip(JAEGER_MISSING, allow_module_level=True)
if PROMETHEUS is None:
    pytest.skip(PROMETHEUS_MISSING, allow_module_level=True)

A = Workload("a", "shop")
B = Workload("b", "payments")
C = Workload("c", "payments")
D = Workload("d", "shop")
RUN_SECONDS = 12.0
LOOKBACK = "10s"
TICK = 0.25

STACK = """\
config:
  mesh-tracing:environment: dev
  mesh-tracing:tracing:
    sampling: 1
    namespaces:
      shop: 5
    gateways:
      - namespace: istio-system
        sampling: 1
"""


@dataclass
class Flow:
    """Requests entering at `entry` at `rate` per second and going down `chain`."""

    chain: list[Workload]
    rate: float
    sampled_percent: float
    """The decision the gateway makes for requests without trace context."""
    forced_percent: float = 0.0
    """Requests whose outside client sends a sampled `traceparent` the gateway honours."""
    no_sidecar: frozenset[str] = frozenset()
    entry: Workload = GATEWAY


@dataclass
class Scenario:
    name: str
    flows: list[Flow]
    stack: bool = False
    result: dict[str, Any] = field(default_factory=dict)


def _count(
    counters: RequestCounters, caller: Workload, callee: Workload, amount: float, flow: Flow
) -> None:
    labels = {
        "source_workload": caller.app,
        "source_workload_namespace": caller.namespace,
        "source_canonical_service": caller.app,
        "destination_workload": callee.app,
        "destination_workload_namespace": callee.namespace,
        "destination_canonical_service": callee.app,
        "destination_service": callee.host,
        "destination_service_name": callee.app,
        "destination_service_namespace": callee.namespace,
        "request_protocol": "http",
        "response_code": "200",
    }
    # Each proxy counts what it sees: the caller's as source, the callee's as destination.
    if caller.service not in flow.no_sidecar:
        counters.add(amount, reporter="source", **labels)
    if callee.service not in flow.no_sidecar:
        counters.add(amount, reporter="destination", **labels)


def _simulate(scenario: Scenario, counters: RequestCounters, emitter: Emitter) -> None:
    from opentelemetry.trace import SpanContext, TraceFlags

    decided = [0.0] * len(scenario.flows)
    forced = [0.0] * len(scenario.flows)
    began = time.monotonic()
    while time.monotonic() - began < RUN_SECONDS:
        for index, flow in enumerate(scenario.flows):
            amount = flow.rate * TICK
            hops = [flow.entry, *flow.chain]
            for caller, callee in itertools.pairwise(hops):
                _count(counters, caller, callee, amount, flow)
            decided[index] += amount * (1 - flow.forced_percent / 100) * flow.sampled_percent / 100
            forced[index] += amount * flow.forced_percent / 100
            while decided[index] >= 1:
                decided[index] -= 1
                request(emitter, flow.entry, flow.chain, time.time_ns(), no_sidecar=flow.no_sidecar)
            while forced[index] >= 1:
                forced[index] -= 1
                client = SpanContext(
                    int.from_bytes(os.urandom(16), "big"),
                    int.from_bytes(os.urandom(8), "big"),
                    True,
                    TraceFlags(1),
                )
                request(
                    emitter,
                    flow.entry,
                    flow.chain,
                    time.time_ns(),
                    no_sidecar=flow.no_sidecar,
                    remote_parent=client,
                )
        time.sleep(TICK)
    emitter.flush()


SCENARIOS = [
    Scenario("healthy", [Flow([A, B, C], rate=200, sampled_percent=1)]),
    Scenario(
        "no-sidecar",
        [Flow([A, D, C], rate=100, sampled_percent=10, no_sidecar=frozenset({D.service}))],
    ),
    Scenario("gateway-1-shop-5", [Flow([A, B, C], rate=200, sampled_percent=1)], stack=True),
    Scenario(
        "clients-force-sampling",
        [Flow([A, B, C], rate=200, sampled_percent=1, forced_percent=10)],
        stack=True,
    ),
]


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Scenario]]:
    assert JAEGER is not None and PROMETHEUS is not None
    project = tmp_path_factory.mktemp("project")
    (project / "Pulumi.yaml").write_text(
        "name: mesh-tracing\nruntime: python\nstackConfigDir: stacks\n"
    )
    (project / "stacks").mkdir()
    (project / "stacks" / "Pulumi.mesh.yaml").write_text(STACK)
    with ExitStack() as stack:
        running = []
        for scenario in SCENARIOS:
            workdir = tmp_path_factory.mktemp(scenario.name)
            counters = RequestCounters()
            target = stack.enter_context(serve_metrics(counters))
            jaeger = stack.enter_context(run_jaeger(JAEGER, workdir / "jaeger"))
            prometheus = stack.enter_context(run_prometheus(PROMETHEUS, workdir / "prom", target))
            emitter = Emitter(jaeger.otlp_endpoint)
            stack.callback(emitter.shutdown)
            running.append((scenario, counters, emitter, jaeger, prometheus))
        threads = [
            threading.Thread(target=_simulate, args=(scenario, counters, emitter))
            for scenario, counters, emitter, _, _ in running
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        # Prometheus scrapes every second: let it read the counters' last values.
        time.sleep(2)
        for scenario, _, _, jaeger, prometheus in running:
            arguments = [
                "doctor",
                "--jaeger-url",
                jaeger.query_url,
                "--prometheus-url",
                prometheus,
                "--lookback",
                LOOKBACK,
                "--settle",
                "1ms",
                "--format",
                "json",
            ]
            if scenario.stack:
                arguments += ["--stack", "mesh", "--project-dir", str(project)]
            stdout, stderr = io.StringIO(), io.StringIO()
            status = cli.run(arguments, stdout=stdout, stderr=stderr)
            scenario.result = {
                "status": status,
                "report": json.loads(stdout.getvalue()) if stdout.getvalue() else None,
                "stderr": stderr.getvalue(),
            }
        yield {scenario.name: scenario for scenario in SCENARIOS}


def _report(results: dict[str, Scenario], name: str) -> tuple[int, dict[str, Any]]:
    result = results[name].result
    assert result["report"] is not None, result["stderr"]
    return result["status"], result["report"]


def _gateway_row(report: dict[str, Any]) -> dict[str, Any]:
    (row,) = [row for row in report["sampling"] if row["role"] == "gateway"]
    return row


def _observed(row: dict[str, Any]) -> Optional[float]:
    return row["observed_percent"]


def test_a_healthy_mesh_has_no_finding_and_its_real_sampling(results: dict[str, Scenario]) -> None:
    status, report = _report(results, "healthy")
    assert status == 0, report
    assert report["untraced_services"] == []
    (row,) = report["sampling"]
    assert row["service"] == "istio-ingressgateway.istio-system"
    assert 0.5 <= _observed(row) <= 1.5, row
    assert row["configured_percent"] is None and row["verdict"] == "not configured"


def test_a_service_without_sidecar_is_untraced(results: dict[str, Scenario]) -> None:
    status, report = _report(results, "no-sidecar")
    assert status == 2
    (untraced,) = report["untraced_services"]
    assert (untraced["service"], untraced["namespace"]) == ("d", "shop")
    assert untraced["reporters"] == ["source"]
    assert untraced["likely_cause"].startswith("no sidecar")
    assert untraced["callers_spans"] > 0
    assert report["broken_propagation"] == [] and report["orphans"] == []
    assert report["problems"] == 1


def test_the_gateway_decides_at_its_percentage_and_the_namespace_override_does_not(
    results: dict[str, Scenario],
) -> None:
    status, report = _report(results, "gateway-1-shop-5")
    assert status == 0, report
    row = _gateway_row(report)
    assert row["configured_percent"] == 1
    assert row["configured_as"] == "gateway istio-system/istio=ingressgateway"
    assert row["verdict"] == "ok", row
    assert 0.5 <= _observed(row) <= 1.5
    # No trace starts in shop: its 5 % decides nothing for traffic through the gateway.
    assert [start["role"] for start in report["trace_starts"]] == ["gateway"]
    assert any(note.startswith("namespace shop: 5 % configured") for note in report["notes"])
    assert report["untraced_services"] == []


def test_a_large_gap_at_the_gateway_is_reported_with_its_likely_cause(
    results: dict[str, Scenario],
) -> None:
    status, report = _report(results, "clients-force-sampling")
    assert status == 2
    row = _gateway_row(report)
    assert row["verdict"] == "gap"
    assert _observed(row) > 5
    assert "forces sampling" in row["likely_cause"]
    assert "trust_client_trace_context: false" in row["likely_cause"]
    assert report["problems"] == 1
