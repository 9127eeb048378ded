"""The diagnosis on recorded Jaeger query API answers (tests/doctor/recorded/, recorded from the
real Jaeger v2 with the scenarios of test_real_jaeger.py), without network."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mesh_tracing.doctor.analysis import (
    TraceStart,
    diagnose,
    find_trace_starts,
    find_untraced,
    hops,
    observed_sampling,
)
from mesh_tracing.doctor.model import BadTraceData, Trace, parse_trace
from mesh_tracing.doctor.prometheus import Traffic
from mesh_tracing.doctor.stack import ConfiguredSampling

RECORDED = Path(__file__).parent / "recorded"


def recorded(name: str) -> list[Trace]:
    return [
        parse_trace(item) for item in json.loads((RECORDED / f"{name}.json").read_text())["data"]
    ]


def test_spans_are_read_as_istio_reports_them() -> None:
    (trace,) = recorded("healthy")[:1]
    assert len(trace.spans) == 7
    (gateway,) = [span for span in trace.spans if span.parent_id is None]
    assert gateway.service == "istio-ingressgateway.istio-system"
    assert gateway.kind == "server" and trace.is_gateway(gateway)
    (upstream,) = trace.children(gateway)
    assert upstream.operation == "router outbound|8080||a.shop.svc.cluster.local egress"
    assert upstream.upstream_host == "a.shop.svc.cluster.local"
    (inbound,) = trace.children(upstream)
    assert (inbound.service, inbound.kind, inbound.canonical_service, inbound.namespace) == (
        "a.shop",
        "server",
        "a",
        "shop",
    )
    assert inbound.is_proxy and inbound.request_id == gateway.request_id


def test_a_healthy_chain_has_no_finding() -> None:
    findings = diagnose(recorded("healthy"))
    assert findings.problems == 0
    assert [(start.service, start.role, start.traces) for start in findings.trace_starts] == [
        ("istio-ingressgateway.istio-system", "gateway", 3)
    ]


def test_a_service_dropping_the_headers_is_named() -> None:
    findings = diagnose(recorded("b-drops-headers"))
    (broken,) = findings.broken_propagation
    assert (broken.service, broken.new_traces, broken.inbound_traced_requests, broken.matched) == (
        "b.payments",
        3,
        3,
        3,
    )
    assert broken.callees == {"c.payments": 3}
    traces = {trace.trace_id: trace for trace in recorded("b-drops-headers")}
    for inbound, new in broken.examples:
        assert inbound is not None
        assert {span.service for span in traces[inbound].spans} == {
            "istio-ingressgateway.istio-system",
            "a.shop",
            "b.payments",
        }
        assert [span.kind for span in traces[new].roots()] == ["client"]
    assert findings.orphans == [] and findings.problems == 1


def test_a_job_that_only_originates_traffic_is_not_flagged() -> None:
    findings = diagnose(recorded("cron-job"))
    assert findings.broken_propagation == []
    assert {(start.service, start.role) for start in findings.trace_starts} == {
        ("settlement.batch-jobs", "outbound"),
        ("istio-ingressgateway.istio-system", "gateway"),
    }


def test_spans_whose_parent_never_arrived_are_orphans() -> None:
    findings = diagnose(recorded("missing-parents"))
    assert {(item.service, item.spans) for item in findings.orphans} == {
        ("a.shop", 2),
        ("b.payments", 2),
    }
    assert findings.broken_propagation == []


def test_traces_still_arriving_are_not_judged_for_orphans() -> None:
    traces = recorded("missing-parents")
    earliest = min(span.start_us for trace in traces for span in trace.spans)
    assert diagnose(traces, settled_before_us=earliest).orphans == []


def test_a_gateway_continuing_a_client_context_is_no_orphan_and_gives_the_hops() -> None:
    (trace,) = recorded("probe")
    assert diagnose([trace]).problems == 0
    assert hops(trace) == [
        "istio-ingressgateway.istio-system",
        "a.shop",
        "b.payments",
        "c.payments",
    ]
    (start,) = find_trace_starts([trace])
    assert (start.role, start.continued) == ("gateway", 1)


def _traffic(name: str, namespace: str, reporter: str, requests: float) -> Traffic:
    return Traffic(name, namespace, name, reporter, requests)


def test_a_service_in_the_metrics_without_spans_is_untraced() -> None:
    traces = recorded("no-sidecar")
    received = [
        _traffic("a", "shop", "source", 100),
        _traffic("a", "shop", "destination", 100),
        _traffic("d", "shop", "source", 100),
        _traffic("c", "payments", "destination", 100),
    ]
    (untraced,) = find_untraced(traces, received)
    assert (untraced.service, untraced.namespace, untraced.reporters) == ("d", "shop", ["source"])
    assert untraced.callers_spans == 2
    assert untraced.likely_cause.startswith("no sidecar")
    with_sidecar = find_untraced(traces, [_traffic("d", "shop", "destination", 100)])
    assert with_sidecar[0].likely_cause.startswith("its sidecar reports metrics but no spans")


CONFIGURED = ConfiguredSampling(
    stack="prod",
    gateways={"istio-system/istio=ingressgateway": 1.0},
    trace_start={"*": 1.0, "shop": 5.0},
)


@pytest.mark.parametrize(
    ("traces", "requests", "verdict", "cause"),
    [
        (20, 2000, "ok", ""),
        (20, 200, "gap", "outside clients decide instead of the gateway"),
        (20, 20000, "gap", "spans lost before Jaeger"),
        (3, 300, "too few requests", ""),
        (3, 0, "no requests counted", "Prometheus has no istio_requests_total"),
    ],
)
def test_observed_sampling_is_judged_against_the_configured_percentage(
    traces: int, requests: float, verdict: str, cause: str
) -> None:
    start = TraceStart(
        "istio-ingressgateway.istio-system",
        "istio-ingressgateway",
        "istio-system",
        "gateway",
        traces,
    )
    sent = [Traffic("istio-ingressgateway", "istio-system", "x", "source", requests)]
    (row,) = observed_sampling([start], sent if requests else [], [], CONFIGURED)
    assert (row.verdict, row.configured_percent) == (verdict, 1.0)
    assert row.likely_cause.startswith(cause)
    if requests:
        assert row.observed_percent == pytest.approx(100 * traces / requests)


def test_configured_sampling_of_gateways_and_trace_starts() -> None:
    assert CONFIGURED.for_gateway("istio-system", "istio-ingressgateway") == (
        1.0,
        "gateway istio-system/istio=ingressgateway",
    )
    assert CONFIGURED.for_gateway("other", "gw") == (1.0, "mesh-wide")
    assert CONFIGURED.for_trace_start("shop") == (5.0, "namespace shop")


def test_a_document_that_is_not_a_trace_is_refused_by_name() -> None:
    with pytest.raises(BadTraceData, match="not a Jaeger trace"):
        parse_trace({"traceID": "1", "spans": [{"spanID": "2"}]})
