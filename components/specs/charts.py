"""The upstream Helm charts this package installs, pinned.

Every value key we set was read in the pinned chart's values.yaml and templates; bump a version
only after reading the new chart's values again.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ChartPin:
    chart: str
    version: str
    repository: str


# Istio moved its charts here in 2026; 1.31 is not published at the old storage.googleapis.com
# location, which is removed in December 2026.
ISTIO_REPOSITORY = "https://blob.istio.io/istio-release/charts"

JAEGER_CHART = ChartPin("jaeger", "4.11.1", "https://jaegertracing.github.io/helm-charts")
KIALI_CHART = ChartPin("kiali-server", "2.29.0", "https://kiali.org/helm-charts")
PROMETHEUS_CHART = ChartPin(
    "prometheus", "29.27.0", "https://prometheus-community.github.io/helm-charts"
)
