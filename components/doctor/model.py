"""Spans and traces as Jaeger's query API returns them, and what Istio's proxies put in them.

What a span from an Istio proxy looks like was read in the sources, not guessed:

- Service name: the proxy's `node.cluster`, which pilot-agent sets from `tracingServiceName`,
  by default APP_LABEL_AND_NAMESPACE, `<app label>.<namespace>` (istio/istio
  `pkg/bootstrap/config.go`, `getServiceCluster` and `serviceClusterOrDefault`); the
  OpenTelemetry provider uses it as `service.name` (`pilot/pkg/networking/core/tracing.go`,
  `otelConfig(serviceCluster, ...)`).
- Span kind: a sidecar's inbound span is SERVER, its outbound span CLIENT, by the listener's
  traffic direction; where `spawn_upstream_span` is set the downstream span is SERVER and the
  router adds a CLIENT child per upstream request (envoyproxy/envoy
  `source/extensions/tracers/opentelemetry/opentelemetry_tracer_impl.cc`, `getSpanKind`;
  `tracer.cc`, `Span::spawnChild`). Istio sets `spawn_upstream_span` only for gateways
  (`startChildSpan := proxy.Type == model.Router` in `tracing.go`), and the router names that
  child `router <cluster> egress` (`source/common/router/upstream_request.cc`).
- Operation name: the route's decorator, `<host>:<port>/*` for the default inbound and outbound
  routes (`pilot/pkg/networking/telemetry/telemetry.go`, `TraceOperation`).
- Tags: `component: proxy`, `upstream_cluster` (`outbound|9080||reviews.default.svc.cluster.local`
  on the way out), `guid:x-request-id`, `http.*` (envoy `source/common/tracing/
  http_tracer_impl.cc`, `finalizeDownstreamSpan`, `setCommonTags`), and Istio's literal custom
  tags `istio.canonical_service`, `istio.namespace`, `istio.mesh_id`, ... (`tracing.go`,
  `buildServiceTags`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Optional

SERVER = "server"
CLIENT = "client"

PROXY_COMPONENT = "proxy"
GATEWAY_UPSTREAM_PREFIX = "router "
GATEWAY_UPSTREAM_SUFFIX = " egress"


class BadTraceData(ValueError):
    """A trace document that does not have the shape of Jaeger's query API."""


@dataclass(frozen=True)
class Span:
    trace_id: str
    span_id: str
    parent_id: Optional[str]
    """The CHILD_OF reference within the same trace; None for a span that starts its trace."""
    service: str
    operation: str
    start_us: int
    duration_us: int
    tags: Mapping[str, str] = field(default_factory=dict)

    @property
    def end_us(self) -> int:
        return self.start_us + self.duration_us

    @property
    def kind(self) -> str:
        return self.tags.get("span.kind", "")

    @property
    def is_proxy(self) -> bool:
        """Made by Envoy (a sidecar or a gateway), not by an app's own SDK."""
        return self.tags.get("component") == PROXY_COMPONENT

    @property
    def canonical_service(self) -> str:
        return self.tags.get("istio.canonical_service", "")

    @property
    def namespace(self) -> str:
        """The proxy's namespace: Istio's tag, else the `.<namespace>` of the service name."""
        if self.tags.get("istio.namespace"):
            return self.tags["istio.namespace"]
        return self.service.rsplit(".", 1)[1] if "." in self.service else ""

    @property
    def request_id(self) -> str:
        return self.tags.get("guid:x-request-id", "")

    @property
    def upstream_host(self) -> str:
        """The host an outbound span went to: `reviews.default.svc.cluster.local` from
        `outbound|9080||reviews.default.svc.cluster.local` (Istio's subset key)."""
        cluster = self.tags.get("upstream_cluster", "")
        parts = cluster.split("|")
        if len(parts) == 4 and parts[0] == "outbound":
            return parts[3]
        return ""

    @property
    def is_gateway_upstream(self) -> bool:
        """The CLIENT span a gateway's router adds for each upstream request."""
        return (
            self.kind == CLIENT
            and self.operation.startswith(GATEWAY_UPSTREAM_PREFIX)
            and self.operation.endswith(GATEWAY_UPSTREAM_SUFFIX)
        )


@dataclass(frozen=True)
class Trace:
    trace_id: str
    spans: tuple[Span, ...]

    @cached_property
    def _span_ids(self) -> frozenset[str]:
        return frozenset(span.span_id for span in self.spans)

    def span_ids(self) -> frozenset[str]:
        return self._span_ids

    @cached_property
    def _by_parent(self) -> dict[str, list[Span]]:
        # Spans are sorted by start, so each list of children is too.
        children: dict[str, list[Span]] = {}
        for span in self.spans:
            if span.parent_id is not None:
                children.setdefault(span.parent_id, []).append(span)
        return children

    def children(self, span: Span) -> list[Span]:
        return self._by_parent.get(span.span_id, [])

    def roots(self) -> list[Span]:
        return [span for span in self.spans if span.parent_id is None]

    def is_gateway(self, span: Span) -> bool:
        """A gateway's downstream span: SERVER, with a `router ... egress` child of its own."""
        return span.kind == SERVER and any(
            child.is_gateway_upstream and child.service == span.service
            for child in self.children(span)
        )


def _tags(items: Any) -> dict[str, str]:
    if not isinstance(items, list):
        return {}
    tags = {}
    for item in items:
        if isinstance(item, Mapping) and "key" in item:
            value = item.get("value")
            tags[str(item["key"])] = str(value).lower() if isinstance(value, bool) else str(value)
    return tags


def parse_trace(document: Mapping[str, Any]) -> Trace:
    """One trace of `/api/traces` or `/api/traces/{id}`: its spans, each with the service of its
    process and its parent within the trace (the CHILD_OF reference)."""
    try:
        trace_id = str(document["traceID"])
        processes = document.get("processes") or {}
        spans = []
        for raw in document["spans"]:
            process = processes.get(raw.get("processID"), {}) if raw.get("processID") else {}
            service = (raw.get("process") or process or {}).get("serviceName", "")
            parent = None
            for reference in raw.get("references") or []:
                if reference.get("refType") == "CHILD_OF" and (
                    reference.get("traceID", trace_id) == trace_id
                ):
                    parent = str(reference["spanID"])
                    break
            spans.append(
                Span(
                    trace_id=trace_id,
                    span_id=str(raw["spanID"]),
                    parent_id=parent,
                    service=str(service),
                    operation=str(raw.get("operationName", "")),
                    start_us=int(raw["startTime"]),
                    duration_us=int(raw.get("duration", 0)),
                    tags=_tags(raw.get("tags")),
                )
            )
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise BadTraceData(f"not a Jaeger trace ({type(error).__name__}: {error})") from None
    return Trace(trace_id, tuple(sorted(spans, key=lambda span: span.start_us)))
