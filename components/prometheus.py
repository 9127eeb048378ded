"""The Prometheus component: the Prometheus Kiali reads, existing or installed."""

from typing import Optional

import pulumi

from .args import PrometheusArgs
from .config import PrometheusComponentConfig
from .helm import pinned_release
from .inputs import BuiltFromConfig, parse_args
from .options import child_options
from .specs.charts import PROMETHEUS_CHART
from .specs.prometheus import prometheus_server_url, prometheus_values

RELEASE_NAME = "prometheus"


class Prometheus(BuiltFromConfig[PrometheusComponentConfig], pulumi.ComponentResource):
    """A Prometheus for Istio's metrics: an existing one by URL, or the upstream `prometheus`
    chart with the annotation-driven pod scraping that Istio's merged metrics rely on."""

    url: pulumi.Output[str]
    """URL Kiali queries Prometheus at."""
    installed: pulumi.Output[bool]
    """Whether this component installed Prometheus."""

    def __init__(
        self,
        name: str,
        args: PrometheusArgs,
        opts: Optional[pulumi.ResourceOptions] = None,
    ) -> None:
        self._create(name, parse_args(name, PrometheusComponentConfig, args), opts)

    def _create(
        self, name: str, config: PrometheusComponentConfig, opts: Optional[pulumi.ResourceOptions]
    ) -> None:
        super().__init__("mesh-tracing:index:Prometheus", name, {}, opts)
        settings = config.prometheus
        if settings.install:
            pinned_release(
                f"{name}-release",
                PROMETHEUS_CHART,
                release_name=RELEASE_NAME,
                namespace=settings.namespace,
                values=prometheus_values(settings, config.images.registry),
                charts=config.charts,
                opts=child_options(self, opts),
            )
            # From the names we give the release, not from its outputs: Kiali need not wait for
            # Prometheus to be ready (it retries), so both install side by side
            # (benchmarks/deploy.py), and a preview shows the URL instead of an unknown.
            self.url = pulumi.Output.from_input(
                prometheus_server_url(RELEASE_NAME, settings.namespace)
            )
        else:
            assert settings.url is not None, "validated: an existing Prometheus has a URL"
            self.url = pulumi.Output.from_input(settings.url)
        self.installed = pulumi.Output.from_input(settings.install)
        self.register_outputs({"url": self.url, "installed": self.installed})
