"""What a production gateway does with the trace context outside clients send.

An outside client can force its request to be sampled past the gateway's percentage: Envoy marks
a request carrying `x-client-trace-id` as client-forced (Istio sets `client_sampling` to 100 %),
and its OpenTelemetry tracer follows a `traceparent`'s sampled flag when no sampler is set
(envoyproxy/envoy#35721, fixed for the decision-off case only by #45830). The decision is taken
in the HTTP connection manager before any route or HTTP filter runs, so a VirtualService's
header removal comes too late (envoyproxy/envoy#40812). Envoy's early header mutation runs
before it: removing the trace headers there makes the gateway start every trace itself, with a
fresh request id, at exactly its own percentage.
"""

from __future__ import annotations

from typing import Any

from ..config import GatewayConfig
from .telemetry import gateway_telemetry_name

ENVOY_FILTER_API_VERSION = "networking.istio.io/v1alpha3"
ENVOY_FILTER_KIND = "EnvoyFilter"
HTTP_CONNECTION_MANAGER = "envoy.filters.network.http_connection_manager"
# The trace context a client can send: W3C, B3 (multi and single header), Envoy's own.
UNTRUSTED_TRACE_HEADERS = (
    "traceparent",
    "tracestate",
    "x-client-trace-id",
    "x-envoy-force-trace",
    "x-request-id",
    "b3",
    "x-b3-traceid",
    "x-b3-spanid",
    "x-b3-parentspanid",
    "x-b3-sampled",
    "x-b3-flags",
)


def trusts_client_trace_context(gateway: GatewayConfig, *, production: bool) -> bool:
    if gateway.trust_client_trace_context is not None:
        return gateway.trust_client_trace_context
    return not production


def client_trace_context_filter(gateway: GatewayConfig) -> dict[str, Any]:
    """An EnvoyFilter on the gateway's pods that drops every client trace header before the
    connection manager's tracing decision."""
    name = gateway_telemetry_name(gateway.selector).replace("-gateway-", "-gateway-drop-trace-")
    return {
        "name": name[:63].rstrip("-"),
        "namespace": gateway.namespace,
        "spec": {
            "workloadSelector": {"labels": dict(sorted(gateway.selector.items()))},
            "configPatches": [
                {
                    "applyTo": "NETWORK_FILTER",
                    "match": {
                        "context": "GATEWAY",
                        "listener": {"filterChain": {"filter": {"name": HTTP_CONNECTION_MANAGER}}},
                    },
                    "patch": {
                        "operation": "MERGE",
                        "value": {
                            "typed_config": {
                                "@type": "type.googleapis.com/envoy.extensions.filters.network."
                                "http_connection_manager.v3.HttpConnectionManager",
                                "early_header_mutation_extensions": [
                                    {
                                        "name": "envoy.http.early_header_mutation.header_mutation",
                                        "typed_config": {
                                            "@type": "type.googleapis.com/envoy.extensions.http."
                                            "early_header_mutation.header_mutation.v3."
                                            "HeaderMutation",
                                            "mutations": [
                                                {"remove": header}
                                                for header in UNTRUSTED_TRACE_HEADERS
                                            ],
                                        },
                                    }
                                ],
                            }
                        },
                    },
                }
            ],
        },
    }
