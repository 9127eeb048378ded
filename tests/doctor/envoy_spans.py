"""Spans shaped as Istio's Envoy proxies report them through the OpenTelemetry provider, made with
the OpenTelemetry Python SDK and sent over OTLP/gRPC, for scenarios of a mesh.

The shape, read in the sources (see `mesh_tracing.doctor.model` for the paths):

- `service.name` is the proxy's cluster name, `<app>.<namespace>`; the gateway's app label is
  `istio-ingressgateway`.
- A sidecar's inbound span is SERVER, named `<its host>:<port>/*`, with `upstream_cluster`
  `inbound|<port>||`; its outbound span is CLIENT, named `<callee host>:<port>/*`, with
  `upstream_cluster` `outbound|<port>||<callee host>`.
- A gateway (spawn_upstream_span) sends a SERVER span named after the route's decorator and a
  CLIENT child per upstream request named `router <cluster> egress`.
- Every span carries `component: proxy`, `guid:x-request-id`, the `http.*` tags, and Istio's
  literal tags (`istio.canonical_service`, `istio.namespace`, ...).
- The app sits between a sidecar's inbound and outbound span: it forwards the inbound span's
  context (the headers), or drops it and its outbound span starts a new trace.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Optional

from opentelemetry import trace as trace_api
from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind

PORT = 8080
MS = 1_000_000


@dataclass(frozen=True)
class Workload:
    app: str
    namespace: str
    gateway: bool = False

    @property
    def service(self) -> str:
        return f"{self.app}.{self.namespace}"

    @property
    def host(self) -> str:
        return f"{self.app}.{self.namespace}.svc.cluster.local"

    @property
    def outbound_cluster(self) -> str:
        return f"outbound|{PORT}||{self.host}"


GATEWAY = Workload("istio-ingressgateway", "istio-system", gateway=True)


@dataclass
class Emitter:
    """One TracerProvider per proxy (its own `service.name`), all exporting to one OTLP port.
    Spans of `lost` proxies are made but never exported: dropped on the way to Jaeger."""

    otlp_endpoint: str
    _providers: dict[str, TracerProvider] = field(default_factory=dict)
    _lost: Optional[TracerProvider] = None

    def _tracer(self, workload: Workload, lost: bool) -> trace_api.Tracer:
        if lost:
            if self._lost is None:
                self._lost = TracerProvider(resource=Resource.create({"service.name": "lost"}))
            return self._lost.get_tracer("envoy")
        provider = self._providers.get(workload.service)
        if provider is None:
            provider = TracerProvider(resource=Resource.create({"service.name": workload.service}))
            provider.add_span_processor(
                BatchSpanProcessor(
                    OTLPSpanExporter(endpoint=self.otlp_endpoint, insecure=True),
                    max_queue_size=100_000,
                    max_export_batch_size=512,
                    schedule_delay_millis=200,
                )
            )
            self._providers[workload.service] = provider
        return provider.get_tracer("envoy")

    def span(
        self,
        workload: Workload,
        kind: SpanKind,
        name: str,
        start_ns: int,
        end_ns: int,
        parent: Optional[SpanContext],
        request_id: str,
        upstream_cluster: str,
        *,
        lost: bool = False,
        proxy: bool = True,
    ) -> SpanContext:
        context = (
            trace_api.set_span_in_context(NonRecordingSpan(parent), Context())
            if parent is not None
            else Context()
        )
        attributes = (
            envoy_tags(workload, request_id, upstream_cluster, name) if proxy else {"app": "x"}
        )
        span = self._tracer(workload, lost).start_span(
            name, context=context, kind=kind, attributes=attributes, start_time=start_ns
        )
        span.end(end_time=end_ns)
        return span.get_span_context()

    def flush(self) -> None:
        for provider in self._providers.values():
            provider.force_flush()

    def shutdown(self) -> None:
        for provider in self._providers.values():
            provider.shutdown()


def envoy_tags(
    workload: Workload, request_id: str, upstream_cluster: str, name: str
) -> dict[str, str]:
    return {
        "component": "proxy",
        "node_id": f"sidecar~10.0.0.1~{workload.app}-7d9c-x.{workload.namespace}~"
        f"{workload.namespace}.svc.cluster.local",
        "zone": "",
        "guid:x-request-id": request_id,
        "http.url": f"http://{name.split('/', 1)[0]}/",
        "http.method": "GET",
        "downstream_cluster": "-",
        "user_agent": "curl/8.5.0",
        "http.protocol": "HTTP/1.1",
        "peer.address": "10.0.0.2",
        "request_size": "0",
        "response_size": "120",
        "upstream_cluster": upstream_cluster,
        "upstream_cluster.name": upstream_cluster,
        "http.status_code": "200",
        "response_flags": "-",
        "istio.canonical_revision": "latest",
        "istio.canonical_service": workload.app,
        "istio.mesh_id": "cluster.local",
        "istio.namespace": workload.namespace,
        "istio.cluster_id": "Kubernetes",
    }


def request(
    emitter: Emitter,
    entry: Workload,
    chain: Sequence[Workload],
    start_ns: int,
    *,
    dropping: frozenset[str] = frozenset(),
    no_sidecar: frozenset[str] = frozenset(),
    lost: frozenset[tuple[str, str]] = frozenset(),
    app_spans_elsewhere: frozenset[str] = frozenset(),
    remote_parent: Optional[SpanContext] = None,
    request_id: Optional[str] = None,
) -> list[str]:
    """One request entering at `entry` (the gateway, or a job calling out) and going down
    `chain`; the hex trace ids it produced (more than one where an app drops the headers).

    `dropping`: apps (by service) that do not copy the trace headers onto their calls.
    `no_sidecar`: workloads without a proxy (they forward the headers, report nothing).
    `lost`: (service, "server"|"client") spans made but never delivered.
    `app_spans_elsewhere`: apps whose own span between their proxy's inbound and outbound span
    goes to another backend."""
    request_id = request_id or str(uuid.uuid4())
    hops = len(chain) + 1
    depth = 0

    def window() -> tuple[int, int]:
        nonlocal depth
        depth += 1
        return start_ns + depth * MS, start_ns + (4 * hops - depth) * MS

    def emit(workload: Workload, kind: SpanKind, name: str, parent, cluster: str) -> SpanContext:
        begin, end = window()
        side = "server" if kind == SpanKind.SERVER else "client"
        return emitter.span(
            workload,
            kind,
            name,
            begin,
            end,
            parent,
            request_id,
            cluster,
            lost=(workload.service, side) in lost,
        )

    first = chain[0]
    if entry.gateway:
        server = emit(entry, SpanKind.SERVER, f"{first.host}:{PORT}/*", remote_parent, "")
        context = emit(
            entry,
            SpanKind.CLIENT,
            f"router {first.outbound_cluster} egress",
            server,
            first.outbound_cluster,
        )
    else:
        # A job's app calls out with no trace context: its sidecar's outbound span starts one.
        context = emit(
            entry, SpanKind.CLIENT, f"{first.host}:{PORT}/*", None, first.outbound_cluster
        )
    trace_ids = {format(context.trace_id, "032x")}
    for index, workload in enumerate(chain):
        callee = chain[index + 1] if index + 1 < len(chain) else None
        if workload.service in no_sidecar:
            continue  # no proxy: the request and its headers pass through unseen
        inbound = emit(workload, SpanKind.SERVER, f"{workload.host}:{PORT}/*", context, "")
        if callee is None:
            break
        outgoing: Optional[SpanContext] = inbound
        if workload.service in app_spans_elsewhere:
            begin, end = window()
            outgoing = emitter.span(
                workload,
                SpanKind.INTERNAL,
                "handle",
                begin,
                end,
                inbound,
                request_id,
                "",
                lost=True,
                proxy=False,
            )
        if workload.service in dropping:
            outgoing = None
            request_id = str(uuid.uuid4())  # x-request-id is dropped too: Envoy makes one
        context = emit(
            workload,
            SpanKind.CLIENT,
            f"{callee.host}:{PORT}/*",
            outgoing,
            callee.outbound_cluster,
        )
        trace_ids.add(format(context.trace_id, "032x"))
    return sorted(trace_ids)
