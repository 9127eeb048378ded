"""Helm values for Istio's `base` and `istiod` charts, and the mesh config for tracing."""

from __future__ import annotations

from typing import Any, Optional

from .charts import ISTIO_BASE_CHART, ISTIOD_CHART
from .images import ISTIO_IMAGE_HUB, mirrored


def tracing_extension_provider(
    provider_name: str, otlp_host: Any, otlp_port: Any
) -> dict[str, Any]:
    """The OpenTelemetry tracing provider: Envoy exports spans over OTLP gRPC to this host:port."""
    return {
        "name": provider_name,
        "opentelemetry": {"service": otlp_host, "port": otlp_port},
    }


def tracing_mesh_config(
    provider_name: str, otlp_host: Any, otlp_port: Any, *, root_namespace: str
) -> dict[str, Any]:
    """What this stack needs in the mesh config, and nothing else.

    `rootNamespace` travels with it: the mesh-wide Telemetry goes into `istio.root_namespace`, and
    a mesh whose root is elsewhere would treat it as one namespace's (istiod, read with
    pilot-discovery, keeps its default `istio-system` when the merged config leaves it out).

    No `defaultProviders`: every Telemetry we create names its provider, and setting
    `defaultProviders` in the istiod chart drops the chart's own `metrics: [prometheus]` default.
    No `defaultConfig.tracing`: Telemetry's `randomSamplingPercentage` is the one sampling knob,
    and a second, legacy one would only show up when a Telemetry is missing.
    """
    return {
        "rootNamespace": root_namespace,
        "enableTracing": True,
        "extensionProviders": [tracing_extension_provider(provider_name, otlp_host, otlp_port)],
    }


def istio_base_values(root_namespace: str) -> dict[str, Any]:
    return {"global": {"istioNamespace": root_namespace}}


# istiod's chart default (500m, 2Gi) suits production meshes; a development cluster does not
# need to reserve that much.
ISTIOD_RESOURCES = {
    "small": {"requests": {"cpu": "100m", "memory": "512Mi"}, "limits": {"memory": "2Gi"}},
    "default": {"requests": {"cpu": "500m", "memory": "2Gi"}, "limits": {"memory": "4Gi"}},
}


def istiod_values(
    root_namespace: str,
    replicas: int,
    mesh_config: dict[str, Any],
    *,
    small: bool = False,
    image_registry: Optional[str] = None,
) -> dict[str, Any]:
    """The chart's keys are flat since Istio 1.24 (`replicaCount`, not `pilot.replicaCount`).

    `hub` names istiod's own image; `global.hub` the proxy image the injector writes into every
    pod, so a mirror must be set on both.
    """
    hub = mirrored(ISTIO_IMAGE_HUB, image_registry)
    return {
        "global": {"istioNamespace": root_namespace, "hub": hub},
        "hub": hub,
        # A fixed replica count: the chart ignores replicaCount while its HPA is on.
        "autoscaleEnabled": False,
        "replicaCount": replicas,
        "resources": ISTIOD_RESOURCES["small" if small else "default"],
        "meshConfig": mesh_config,
    }


__all__ = [
    "ISTIOD_CHART",
    "ISTIO_BASE_CHART",
    "istio_base_values",
    "istiod_values",
    "tracing_extension_provider",
    "tracing_mesh_config",
]
