"""The images our charts deploy, and how a mirror registry replaces their registry.

A mirror keeps each image's repository path and swaps only the registry host: `quay.io/kiali/kiali`
becomes `<mirror>/kiali/kiali`, Docker Hub's `jaegertracing/jaeger` becomes
`<mirror>/jaegertracing/jaeger`. That is how `crane copy`, `skopeo sync` and Harbor's proxy
projects lay images out.
"""

from __future__ import annotations

from typing import Optional

# From 1.31 on, Istio publishes images only here; the 1.30 charts default to a retired registry.
ISTIO_IMAGE_HUB = "docker.io/istio"
# The charts' own defaults, pinned with the charts (values.yaml of each).
KIALI_IMAGE = "quay.io/kiali/kiali"
PROMETHEUS_IMAGE = "quay.io/prometheus/prometheus"
CONFIG_RELOADER_IMAGE = "quay.io/prometheus-operator/prometheus-config-reloader"
JAEGER_IMAGE = "jaegertracing/jaeger"


def _repository_path(reference: str) -> str:
    """The reference without its registry (Docker's rule: a first part with a dot or a colon,
    or `localhost`, is a registry)."""
    first, _, rest = reference.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        return rest
    return reference


def mirrored(reference: str, registry: Optional[str]) -> str:
    """`reference` pulled from `registry` instead of its own, or unchanged without a mirror."""
    if registry is None:
        return reference
    return f"{registry}/{_repository_path(reference)}"
