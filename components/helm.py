"""Helm releases of the pinned upstream charts."""

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from .specs.charts import ChartPin

RELEASE_TIMEOUT_SECONDS = 600


def pinned_release(
    resource_name: str,
    chart: ChartPin,
    *,
    release_name: str,
    namespace: str,
    values: dict[str, Any],
    opts: pulumi.ResourceOptions,
    atomic: bool = False,
) -> k8s.helm.v3.Release:
    """A Helm release of `chart` at its pinned version, from its own repository.

    A fixed release name keeps the Service names other components are wired to stable, and the
    namespace is created if missing (Helm tolerates one that exists). `atomic` rolls a failed
    upgrade back instead of leaving a half-upgraded release.
    """
    return k8s.helm.v3.Release(
        resource_name,
        name=release_name,
        chart=chart.chart,
        version=chart.version,
        repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=chart.repository),
        namespace=namespace,
        create_namespace=True,
        values=values,
        timeout=RELEASE_TIMEOUT_SECONDS,
        atomic=atomic,
        opts=opts,
    )
