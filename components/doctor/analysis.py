"""The diagnosis: pure functions over traces (and request counts), no network.

How a break shows in the data. A sidecar's outbound span is the child of whatever context the
app's outbound request carries (envoy `opentelemetry_tracer_impl.cc`, `Driver::startSpan`: with a
`traceparent` it continues that trace, without one it starts a new trace). An app that copies the
headers makes its outbound CLIENT span a child of its inbound SERVER span; an app that drops them
makes every outbound CLIENT span the root of a new trace. So a service whose proxy starts traces
with CLIENT spans while its proxy also receives traced requests (SERVER spans) is breaking
traces. A service with no inbound requests (a job) starting traces that way is normal.
"""

from __future__ import annotations

import bisect
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Optional

from .model import CLIENT, SERVER, Span, Trace
from .prometheus import Traffic
from .stack import ConfiguredSampling

EXAMPLES = 3
GATEWAY = "gateway"
OUTBOUND = "outbound"
INBOUND = "inbound"
# Fewer expected (and observed) traces than this, and a ratio says nothing.
MIN_TRACES_TO_JUDGE = 10
GAP_FACTOR = 2.0


@dataclass
class BrokenPropagation:
    service: str
    new_traces: int
    """Outbound calls of the service that started a trace of their own."""
    inbound_traced_requests: int
    matched: int
    """Of `new_traces`, how many were placed inside one of its inbound requests (by
    `x-request-id`, else by time): the trace that should have continued."""
    callees: dict[str, int]
    examples: list[tuple[Optional[str], str]]
    """(the inbound request's trace, or None when not found; the new trace)."""


@dataclass
class TraceStart:
    service: str
    canonical_service: str
    namespace: str
    role: str
    """gateway (outside requests), outbound (a call with no trace context), inbound (a request
    reaching a sidecar with no trace context)."""
    traces: int
    continued: int = 0
    """Of `traces`, how many continued a trace context an outside client sent (gateways)."""


@dataclass
class Orphans:
    service: str
    spans: int
    examples: list[str]


@dataclass
class UntracedService:
    service: str
    namespace: str
    requests: float
    reporters: list[str]
    callers_spans: int
    likely_cause: str


@dataclass
class SamplingRow:
    service: str
    namespace: str
    role: str
    traces: int
    requests: Optional[float]
    observed_percent: Optional[float]
    configured_percent: Optional[float]
    configured_as: str
    verdict: str
    """ok, gap, too few requests, no requests counted, not configured."""
    likely_cause: str = ""


@dataclass
class Findings:
    traces_read: int
    spans_read: int
    broken_propagation: list[BrokenPropagation] = field(default_factory=list)
    orphans: list[Orphans] = field(default_factory=list)
    trace_starts: list[TraceStart] = field(default_factory=list)
    untraced: Optional[list[UntracedService]] = None
    sampling: Optional[list[SamplingRow]] = None
    notes: list[str] = field(default_factory=list)

    @property
    def problems(self) -> int:
        return (
            len(self.broken_propagation)
            + len(self.orphans)
            + len(self.untraced or [])
            + sum(1 for row in self.sampling or [] if row.verdict == "gap")
        )


def proxy_services(traces: Iterable[Trace], kind: str) -> dict[str, list[Span]]:
    spans: dict[str, list[Span]] = defaultdict(list)
    for trace in traces:
        for span in trace.spans:
            if span.is_proxy and span.kind == kind:
                spans[span.service].append(span)
    return spans


def gateway_services(traces: Iterable[Trace]) -> set[str]:
    return {span.service for trace in traces for span in trace.spans if trace.is_gateway(span)}


def _callee(trace: Trace, span: Span) -> str:
    for child in trace.children(span):
        if child.kind == SERVER:
            return child.service
    return span.upstream_host or span.operation


def find_broken_propagation(traces: Sequence[Trace]) -> list[BrokenPropagation]:
    inbound = proxy_services(traces, SERVER)
    gateways = gateway_services(traces)
    new_traces: dict[str, list[tuple[Trace, Span]]] = defaultdict(list)
    for trace in traces:
        for root in trace.roots():
            if root.is_proxy and root.kind == CLIENT and not root.is_gateway_upstream:
                new_traces[root.service].append((trace, root))
    found = []
    for service, starts in sorted(new_traces.items()):
        # Only the proxy's own inbound requests count: a job that only originates is no break.
        if service not in inbound or service in gateways:
            continue
        servers = sorted(inbound[service], key=lambda span: span.start_us)
        server_starts = [span.start_us for span in servers]
        by_request_id = {span.request_id: span for span in servers if span.request_id}
        paired: list[tuple[Optional[str], str]] = []
        unpaired: list[tuple[Optional[str], str]] = []
        matched = 0
        callees: Counter[str] = Counter()
        for trace, root in starts:
            callees[_callee(trace, root)] += 1
            enclosing = _enclosing(root, servers, server_starts, by_request_id)
            if enclosing is not None:
                matched += 1
                paired.append((enclosing.trace_id, trace.trace_id))
            else:
                unpaired.append((None, trace.trace_id))
        examples = (paired[:EXAMPLES] + unpaired)[:EXAMPLES]
        found.append(
            BrokenPropagation(
                service=service,
                new_traces=len(starts),
                inbound_traced_requests=len(servers),
                matched=matched,
                callees=dict(callees.most_common()),
                examples=examples,
            )
        )
    return found


def _enclosing(
    root: Span, servers: list[Span], starts: list[int], by_request_id: dict[str, Span]
) -> Optional[Span]:
    """The inbound request during which the app made this outbound call: same `x-request-id`
    when the app forwarded that one, else the latest-starting one that spans it in time."""
    same_request = by_request_id.get(root.request_id) if root.request_id else None
    if same_request is not None and same_request.trace_id != root.trace_id:
        return same_request
    index = bisect.bisect_right(starts, root.start_us)
    for server in reversed(servers[max(0, index - 200) : index]):
        if server.trace_id != root.trace_id and server.end_us >= root.end_us:
            return server
    return None


def find_trace_starts(traces: Sequence[Trace]) -> list[TraceStart]:
    """Where the mesh's traces start: the first proxy span of each trace, by service and role.

    A gateway span whose parent is missing continued a `traceparent` an outside client sent:
    the gateway let the client decide, which is what observed sampling should show."""
    counts: Counter[tuple[str, str, str, str]] = Counter()
    continued: Counter[tuple[str, str, str, str]] = Counter()
    for trace in traces:
        ids = trace.span_ids()
        for span in trace.spans:
            if not span.is_proxy or span.is_gateway_upstream:
                continue
            external = span.parent_id is not None and span.parent_id not in ids
            if span.parent_id is not None and not (external and trace.is_gateway(span)):
                continue
            if trace.is_gateway(span):
                role = GATEWAY
            else:
                role = OUTBOUND if span.kind == CLIENT else INBOUND
            key = (span.service, span.canonical_service, span.namespace, role)
            counts[key] += 1
            continued[key] += external
    return [TraceStart(*key, count, continued[key]) for key, count in sorted(counts.items())]


def find_orphans(traces: Sequence[Trace], settled_before_us: Optional[int]) -> list[Orphans]:
    """Spans whose parent never arrived, by the service that sent them. Traces still arriving
    (a span ending after `settled_before_us`: proxies flush spans every few seconds, the parent
    last, since a parent ends after its children) are left out, and so are gateway spans that
    continue an outside client's context."""
    counts: Counter[str] = Counter()
    examples: dict[str, list[str]] = defaultdict(list)
    for trace in traces:
        if settled_before_us is not None and any(
            span.end_us > settled_before_us for span in trace.spans
        ):
            continue
        ids = trace.span_ids()
        for span in trace.spans:
            if span.parent_id is None or span.parent_id in ids or trace.is_gateway(span):
                continue
            counts[span.service] += 1
            if trace.trace_id not in examples[span.service] and (
                len(examples[span.service]) < EXAMPLES
            ):
                examples[span.service].append(trace.trace_id)
    return [Orphans(service, count, examples[service]) for service, count in sorted(counts.items())]


def _identities(traces: Sequence[Trace]) -> set[str]:
    """Every name a workload with spans goes by: `<service name>` and `<canonical>.<ns>`."""
    names = set()
    for trace in traces:
        for span in trace.spans:
            names.add(span.service)
            if span.canonical_service and span.namespace:
                names.add(f"{span.canonical_service}.{span.namespace}")
    return names


def find_untraced(traces: Sequence[Trace], received: Sequence[Traffic]) -> list[UntracedService]:
    """Workloads Istio's metrics show receiving requests, with no span in the window."""
    traced = _identities(traces)
    grouped: dict[tuple[str, str], list[Traffic]] = defaultdict(list)
    for row in received:
        name = row.canonical_service or row.service_name
        if name and row.namespace:
            grouped[(name, row.namespace)].append(row)
    callers: Counter[str] = Counter()
    for trace in traces:
        for span in trace.spans:
            if span.is_proxy and span.kind == CLIENT and span.upstream_host:
                callers[span.upstream_host] += 1
    found = []
    for (name, namespace), rows in sorted(grouped.items()):
        candidates = {f"{name}.{namespace}"} | {
            f"{row.service_name}.{namespace}" for row in rows if row.service_name
        }
        if candidates & traced:
            continue
        reporters = sorted({row.reporter for row in rows})
        # Per reporter the same requests are counted once: the larger count stands for them.
        requests = max(
            sum(row.requests for row in rows if row.reporter == reporter) for reporter in reporters
        )
        callers_spans = sum(
            count
            for host, count in callers.items()
            for row in rows
            if row.service_name and host.startswith(f"{row.service_name}.{namespace}.")
        )
        if "destination" not in reporters:
            cause = (
                "no sidecar: only its callers count its requests (reporter=source), so no "
                "proxy of its own reports spans; inject one, or instrument the app"
            )
        else:
            cause = (
                "its sidecar reports metrics but no spans: a Telemetry disabling tracing or "
                "naming another provider for its namespace or pods, or spans exported elsewhere"
            )
        found.append(UntracedService(name, namespace, requests, reporters, callers_spans, cause))
    return found


def _requests(start: TraceStart, sent: Sequence[Traffic], received: Sequence[Traffic]) -> float:
    app = start.canonical_service or start.service.rsplit(".", 1)[0]
    if start.role == INBOUND:
        rows = [row for row in received if row.reporter == "destination"]
    else:
        rows = list(sent)
    return sum(
        row.requests
        for row in rows
        if row.namespace == start.namespace and app in (row.canonical_service, row.service_name)
    )


def observed_sampling(
    starts: Sequence[TraceStart],
    sent: Sequence[Traffic],
    received: Sequence[Traffic],
    configured: Optional[ConfiguredSampling],
    broken: Iterable[str] = (),
) -> list[SamplingRow]:
    """Traces started over requests, at each gateway and each service where traces start."""
    broken = set(broken)
    rows = []
    for start in starts:
        requests = _requests(start, sent, received)
        observed = 100.0 * start.traces / requests if requests else None
        percent: Optional[float] = None
        source = "no --stack given"
        if configured is not None:
            if start.role == GATEWAY:
                percent, source = configured.for_gateway(
                    start.namespace, start.canonical_service or start.service
                )
            else:
                percent, source = configured.for_trace_start(start.namespace)
        trusting = configured is not None and source.removeprefix("gateway ") in (
            configured.trusting_gateways
        )
        verdict, cause = _verdict(start, requests, percent, trusting, broken)
        rows.append(
            SamplingRow(
                start.service,
                start.namespace,
                start.role,
                start.traces,
                requests if requests else None,
                observed,
                percent,
                source,
                verdict,
                cause,
            )
        )
    return rows


def _verdict(
    start: TraceStart,
    requests: float,
    percent: Optional[float],
    trusting: bool,
    broken: set[str],
) -> tuple[str, str]:
    if not requests:
        return "no requests counted", "Prometheus has no istio_requests_total for it"
    if percent is None:
        return "not configured", ""
    expected = requests * percent / 100.0
    if max(expected, start.traces) < MIN_TRACES_TO_JUDGE:
        return "too few requests", ""
    ratio = start.traces / expected if expected else float("inf")
    if 1 / GAP_FACTOR <= ratio <= GAP_FACTOR:
        if start.service in broken and start.role == OUTBOUND:
            return "ok", "these traces start because the service drops the trace headers"
        return "ok", ""
    high = ratio > GAP_FACTOR
    if start.role == GATEWAY and high:
        return "gap", (
            "outside clients decide instead of the gateway: a `traceparent` with the sampled "
            "flag or an `x-client-trace-id` forces sampling (Istio sets client_sampling to 100 %)"
            + (
                f"; {start.continued} of these traces continued a client's context"
                if start.continued
                else ""
            )
            + (
                "; this stack trusts client trace context at its gateways: set "
                "`trust_client_trace_context: false`"
                if trusting
                else ""
            )
        )
    if high:
        return "gap", (
            "requests reach it carrying a sampled decision from callers the mesh does not "
            "see (no sidecar, outside the mesh), or a Telemetry selecting its pods sets more"
        )
    return "gap", (
        "spans lost before Jaeger (collector dropping under load, export failing), a Telemetry "
        "selecting these pods with a lower percentage, or callers sending a decision not to "
        "trace (`traceparent` ending in -00)"
    )


def unused_overrides(
    starts: Sequence[TraceStart], configured: Optional[ConfiguredSampling]
) -> list[str]:
    """Namespace overrides that decided nothing in the window: no trace started there."""
    if configured is None:
        return []
    started = {start.namespace for start in starts if start.role != GATEWAY}
    return [
        f"namespace {namespace}: {percent:g} % configured, but no trace started there in the "
        "window; its traffic keeps the decision made upstream (a gateway's)"
        for namespace, percent in configured.trace_start.items()
        if namespace != "*" and namespace not in started
    ]


def diagnose(
    traces: Sequence[Trace],
    *,
    settled_before_us: Optional[int] = None,
    received: Optional[Sequence[Traffic]] = None,
    sent: Optional[Sequence[Traffic]] = None,
    configured: Optional[ConfiguredSampling] = None,
) -> Findings:
    """Everything the doctor finds in these traces; the Prometheus checks only when `received`
    and `sent` (Istio's request counts for the same window) are given."""
    findings = Findings(
        traces_read=len(traces), spans_read=sum(len(trace.spans) for trace in traces)
    )
    findings.broken_propagation = find_broken_propagation(traces)
    findings.orphans = find_orphans(traces, settled_before_us)
    findings.trace_starts = find_trace_starts(traces)
    if received is not None and sent is not None:
        findings.untraced = find_untraced(traces, received)
        findings.sampling = observed_sampling(
            findings.trace_starts,
            sent,
            received,
            configured,
            {item.service for item in findings.broken_propagation},
        )
    findings.notes.extend(unused_overrides(findings.trace_starts, configured))
    return findings


def hops(trace: Trace) -> list[str]:
    """The services a request passed through, in order: each proxy that received it (a
    gateway's or a sidecar's SERVER span), following parent links from the trace's start."""
    ids = trace.span_ids()
    starts = [span for span in trace.spans if span.parent_id is None or span.parent_id not in ids]
    chain: list[str] = []

    def walk(span: Span) -> None:
        if span.is_proxy and span.kind == SERVER and (not chain or chain[-1] != span.service):
            chain.append(span.service)
        for child in trace.children(span):
            walk(child)

    for span in sorted(starts, key=lambda span: span.start_us):
        walk(span)
    return chain


def matches_service(wanted: str, trace: Trace, service: str) -> bool:
    """`--expect` names a service as Jaeger does (`reviews.default`), or by its canonical
    name (`reviews`)."""
    if wanted == service or service.startswith(f"{wanted}."):
        return True
    return any(span.service == service and span.canonical_service == wanted for span in trace.spans)
