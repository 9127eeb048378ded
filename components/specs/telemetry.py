"""Istio `telemetry.istio.io/v1` Telemetry specs for trace sampling."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Optional

TELEMETRY_API_VERSION = "telemetry.istio.io/v1"
TELEMETRY_KIND = "Telemetry"
MESH_TELEMETRY_NAME = "mesh-default"
NAMESPACE_TELEMETRY_NAME = "mesh-tracing-sampling"


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
