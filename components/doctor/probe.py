"""The active probe: requests with a fresh, sampled `traceparent`, then their traces in Jaeger.

Each request carries `traceparent: 00-<new trace id>-<new span id>-01` and a new `x-request-id`.
Envoy's OpenTelemetry tracer continues a valid `traceparent` and, with no sampler configured,
follows its sampled flag (envoy `tracer.cc`, `Tracer::startSpan` with a previous span context), so
each request should be traced whatever the sampling percentage, unless the gateway removes the
client's trace context (our production gateways do, `trust_client_trace_context: false`): then
the trace id is lost and the probe finds nothing, which it says.
"""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Optional

from .analysis import hops, matches_service
from .jaeger import JaegerClient
from .model import Trace
from .transport import get


@dataclass
class ProbeTrace:
    trace_id: str
    request_id: str
    status: int
    found: bool = False
    hops: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


@dataclass
class ProbeResult:
    url: str
    expected: list[str]
    waited_seconds: float
    traces: list[ProbeTrace]

    @property
    def problems(self) -> int:
        return sum(1 for item in self.traces if not item.found or item.missing)


def traceparent() -> tuple[str, str]:
    """A new sampled W3C traceparent and its trace id."""
    trace_id = secrets.token_hex(16)
    return f"00-{trace_id}-{secrets.token_hex(8)}-01", trace_id


def run_probe(
    url: str,
    jaeger: JaegerClient,
    *,
    count: int = 3,
    wait_seconds: float = 30.0,
    expected: Sequence[str] = (),
    timeout: float = 10.0,
    settle_seconds: float = 2.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> ProbeResult:
    """Send `count` requests to `url`, then wait (at most `wait_seconds`) for each trace to be in
    Jaeger and to stop growing (proxies flush spans every few seconds, not all at once)."""
    probes = []
    for _ in range(count):
        header, trace_id = traceparent()
        request_id = str(uuid.uuid4())
        status, _ = get(url, timeout, {"traceparent": header, "x-request-id": request_id})
        probes.append(ProbeTrace(trace_id, request_id, status))
    began = clock()
    seen: dict[str, tuple[int, float]] = {}
    traces: dict[str, Trace] = {}
    while True:
        for probe in probes:
            trace = jaeger.trace(probe.trace_id)
            if trace is None:
                continue
            size = len(trace.spans)
            if probe.trace_id not in seen or seen[probe.trace_id][0] != size:
                seen[probe.trace_id] = (size, clock())
            traces[probe.trace_id] = trace
        settled = all(
            probe.trace_id in seen and clock() - seen[probe.trace_id][1] >= settle_seconds
            for probe in probes
        )
        if settled or clock() - began >= wait_seconds:
            break
        sleep(0.5)
    for probe in probes:
        trace: Optional[Trace] = traces.get(probe.trace_id)
        if trace is None:
            continue
        probe.found = True
        probe.hops = hops(trace)
        probe.missing = [
            wanted
            for wanted in expected
            if not any(matches_service(wanted, trace, service) for service in probe.hops)
        ]
    return ProbeResult(url, list(expected), round(clock() - began, 1), probes)
