"""Small facts shared by several specs."""

from __future__ import annotations

# The label form of the injection switch: the Jaeger chart can set pod labels but not pod
# annotations, and Istio's injector honours the label (it takes precedence over the annotation).
NO_SIDECAR_LABELS = {"sidecar.istio.io/inject": "false"}


def service_host(service: str, namespace: str) -> str:
    """The cluster-local DNS name of a Service."""
    return f"{service}.{namespace}.svc.cluster.local"
