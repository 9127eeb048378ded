"""Istio `telemetry.istio.io/v1` Telemetry specs for trace sampling."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Optional

from ..config import GatewayConfig, IstioConfig, TracingConfig

TELEMETRY_API_VERSION = "telemetry.istio.io/v1"
TELEMETRY_KIND = "Telemetry"
MESH_TELEMETRY_NAME = "mesh-default"
NAMESPACE_TELEMETRY_NAME = "mesh-tracing-sampling"
GATEWAY_TELEMETRY_PREFIX = "mesh-tracing-gateway-"
EVERY_OTHER_NAMESPACE = "*"


def tracing_telemetry_spec(provider_name: str, sampling_percent: float) -> dict[str, Any]:
    """A selector-less Telemetry spec: it applies to its whole namespace.

    The provider is named and the percentage set on every resource, even on namespace overrides
    that could inherit them: left out, Istio falls back to the parent Telemetry, then to the mesh
    config's default providers and the istiod default sampling, none of which this stack shows in
    a diff.
    """
    return {
        "tracing": [
            {
                "providers": [{"name": provider_name}],
                "randomSamplingPercentage": float(sampling_percent),
            }
        ]
    }


def telemetry_manifests(
    root_namespace: str,
    provider_name: str,
    mesh_sampling_percent: Optional[float],
    namespace_sampling_percent: Mapping[str, float],
) -> dict[str, dict[str, Any]]:
    """Every Telemetry this stack owns, keyed by namespace, the mesh-wide one first; none in the
    root namespace when the mesh-wide sampling belongs to another stack (`None`)."""
    manifests = {}
    if mesh_sampling_percent is not None:
        manifests[root_namespace] = {
            "name": MESH_TELEMETRY_NAME,
            "namespace": root_namespace,
            "spec": tracing_telemetry_spec(provider_name, mesh_sampling_percent),
        }
    for namespace in sorted(namespace_sampling_percent):
        manifests[namespace] = {
            "name": NAMESPACE_TELEMETRY_NAME,
            "namespace": namespace,
            "spec": tracing_telemetry_spec(provider_name, namespace_sampling_percent[namespace]),
        }
    return manifests


def gateway_telemetry_name(selector: Mapping[str, str]) -> str:
    """A readable, stable name from the selector's values (`istio: ingressgateway` gives
    `mesh-tracing-gateway-ingressgateway`)."""
    words = "-".join(selector[key] for key in sorted(selector)).lower()
    slug = re.sub(r"[^a-z0-9]+", "-", words).strip("-")
    limit = 63 - len(GATEWAY_TELEMETRY_PREFIX)
    return GATEWAY_TELEMETRY_PREFIX + (slug[:limit].rstrip("-") or "selected")


def gateway_label(gateway: GatewayConfig) -> str:
    """How outputs and messages name a gateway: `istio-ingress/istio=ingressgateway`."""
    labels = ",".join(f"{key}={gateway.selector[key]}" for key in sorted(gateway.selector))
    return f"{gateway.namespace}/{labels}"


def gateway_telemetry_manifests(
    provider_name: str, gateways: Sequence[GatewayConfig]
) -> list[dict[str, Any]]:
    """One Telemetry per gateway, selecting its pods. A workload-selected Telemetry overrides
    the namespace's and the mesh's for those pods, which is what makes the gateway's percentage
    the one that decides for requests entering there."""
    return [
        {
            "name": gateway_telemetry_name(gateway.selector),
            "namespace": gateway.namespace,
            "spec": {
                "selector": {"matchLabels": dict(sorted(gateway.selector.items()))},
                **tracing_telemetry_spec(provider_name, gateway.sampling),
            },
        }
        for gateway in gateways
    ]


def trace_start_sampling_percent(tracing: TracingConfig, istio: IstioConfig) -> dict[str, float]:
    """The sampling of traces that start in each namespace (`*`: every namespace without an
    override). Only where a trace starts: downstream sidecars keep the decision the first proxy
    made, so these numbers do not govern traffic that entered through a gateway."""
    every_other = {} if tracing.sampling is None else {EVERY_OTHER_NAMESPACE: tracing.sampling}
    return {**every_other, **dict(sorted(tracing.namespaces.items()))}


def gateway_sampling_percent(tracing: TracingConfig) -> dict[str, float]:
    """The sampling at each gateway: of every request that enters the mesh through it."""
    return {gateway_label(gateway): gateway.sampling for gateway in tracing.gateways}


def sampling_warnings(tracing: TracingConfig, *, production: bool) -> list[str]:
    """What a reviewer should know about where these percentages really decide."""
    if not tracing.gateways:
        if not production:
            return []
        mesh_wide = "another stack's" if tracing.sampling is None else f"{tracing.sampling:g}"
        return [
            "no tracing.gateways in a production stack: requests from outside the mesh are "
            f"sampled at the mesh-wide tracing.sampling ({mesh_wide}) by whichever gateway they "
            "enter; declare each ingress gateway's sampling"
        ]
    highest = max(tracing.gateways, key=lambda gateway: gateway.sampling)
    return [
        f"tracing.namespaces.{namespace} = {percent:g} is above the sampling of every gateway "
        f"(the highest, {gateway_label(highest)}, samples {highest.sampling:g}): it decides only "
        f"for traces that start in {namespace}; requests entering through a gateway keep the "
        "gateway's decision"
        for namespace, percent in sorted(tracing.namespaces.items())
        if percent > highest.sampling
    ]
