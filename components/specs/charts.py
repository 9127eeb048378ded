"""The upstream Helm charts this package installs, pinned, and where each is taken from.

Every value key we set was read in the pinned chart's values.yaml and templates; bump a version
only after reading the new chart's values again.
"""

from __future__ import annotations

import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import yaml


@dataclass(frozen=True)
class ChartPin:
    chart: str
    version: str
    repository: str


# Istio moved its charts here in 2026; 1.31 is not published at the old storage.googleapis.com
# location, which is removed in December 2026.
ISTIO_REPOSITORY = "https://blob.istio.io/istio-release/charts"
ISTIO_VERSION = "1.31.1"

JAEGER_CHART = ChartPin("jaeger", "4.11.1", "https://jaegertracing.github.io/helm-charts")
KIALI_CHART = ChartPin("kiali-server", "2.29.0", "https://kiali.org/helm-charts")
PROMETHEUS_CHART = ChartPin(
    "prometheus", "29.27.0", "https://prometheus-community.github.io/helm-charts"
)
ISTIO_BASE_CHART = ChartPin("base", ISTIO_VERSION, ISTIO_REPOSITORY)
ISTIOD_CHART = ChartPin("istiod", ISTIO_VERSION, ISTIO_REPOSITORY)
CHARTS = (JAEGER_CHART, KIALI_CHART, PROMETHEUS_CHART, ISTIO_BASE_CHART, ISTIOD_CHART)


@dataclass(frozen=True)
class ChartLocation:
    """What a Helm release is given: a chart name with its version and repository, an OCI
    reference with its version, or a local path (whose own version is `local_version`)."""

    chart: str
    version: Optional[str] = None
    repository: Optional[str] = None
    local_version: Optional[str] = None


def is_remote_source(source: str) -> bool:
    return source.startswith(("http://", "https://", "oci://"))


def local_chart(directory: str, pin: ChartPin) -> Optional[str]:
    """The pinned chart in a prepared directory: `<name>/` with its Chart.yaml, else
    `<name>-<pinned version>.tgz`, else the one other `<name>-<version>.tgz` there."""
    base = Path(directory)
    if (base / pin.chart / "Chart.yaml").is_file():
        return str(Path(directory) / pin.chart)
    pinned = base / f"{pin.chart}-{pin.version}.tgz"
    if pinned.is_file():
        return str(Path(directory) / pinned.name)
    others = sorted(
        path.name
        for path in base.glob(f"{pin.chart}-*.tgz")
        # `base-*.tgz` must not pick up another chart whose name starts with `base-`.
        if path.name[len(pin.chart) + 1 : len(pin.chart) + 2].isdigit()
    )
    return str(Path(directory) / others[0]) if len(others) == 1 else None


def _local_version(path: str, chart: str) -> Optional[str]:
    if path.endswith(".tgz"):
        with tarfile.open(path) as archive:
            member = archive.extractfile(f"{chart}/Chart.yaml")
            text = member.read().decode() if member is not None else ""
    else:
        text = (Path(path) / "Chart.yaml").read_text()
    document = yaml.safe_load(text) or {}
    version = document.get("version") if isinstance(document, dict) else None
    return None if version is None else str(version)


def chart_location(pin: ChartPin, source: Optional[str]) -> ChartLocation:
    """Where a release takes `pin` from: its upstream repository (no source), a mirror
    repository (http(s) or oci://), or a prepared local directory (validated to hold it)."""
    if source is None:
        return ChartLocation(pin.chart, pin.version, pin.repository)
    if source.startswith("oci://"):
        return ChartLocation(f"{source.rstrip('/')}/{pin.chart}", pin.version)
    if is_remote_source(source):
        return ChartLocation(pin.chart, pin.version, source.rstrip("/"))
    path = local_chart(source, pin)
    if path is None:
        raise LookupError(f"{pin.chart} {pin.version} is not in {source}")
    return ChartLocation(path, local_version=_local_version(path, pin.chart))
