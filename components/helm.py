"""Helm releases of the pinned upstream charts."""

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from .config import ChartsConfig
from .specs.charts import ChartPin, chart_location

RELEASE_TIMEOUT_SECONDS = 600


def pinned_release(
    resource_name: str,
    chart: ChartPin,
    *,
    release_name: str,
    namespace: str,
    values: dict[str, Any],
    charts: ChartsConfig,
    opts: pulumi.ResourceOptions,
    atomic: bool = False,
) -> k8s.helm.v3.Release:
    """A Helm release of `chart` at its pinned version, from its own repository or from the
    mirror or directory `charts.source` names.

    A fixed release name keeps the Service names other components are wired to stable, and the
    namespace is created if missing (Helm tolerates one that exists). `atomic` rolls a failed
    upgrade back instead of leaving a half-upgraded release.
    """
    location = chart_location(chart, charts.source)
    if location.local_version is not None and location.local_version != chart.version:
        # Charts prepared from upstream source trees may carry a placeholder version (Istio's
        # say 1.0.0): used as they are, with a word, since the pin cannot vouch for them.
        pulumi.log.warn(
            f"chart {chart.chart}: {location.chart} is version {location.local_version}, "
            f"not the pinned {chart.version}; using it as it is"
        )
    return k8s.helm.v3.Release(
        resource_name,
        name=release_name,
        chart=location.chart,
        version=location.version,
        repository_opts=(
            k8s.helm.v3.RepositoryOptsArgs(repo=location.repository)
            if location.repository is not None
            else None
        ),
        namespace=namespace,
        create_namespace=True,
        values=values,
        timeout=RELEASE_TIMEOUT_SECONDS,
        atomic=atomic,
        opts=opts,
    )
