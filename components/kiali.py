"""The Kiali component: Kiali wired to Jaeger and Prometheus."""

from typing import Optional

import pulumi
import pulumi_kubernetes as k8s

from .args import KialiArgs
from .config import KialiComponentConfig
from .helm import pinned_release
from .inputs import BuiltFromConfig, parse_args, secret_output, wired
from .options import child_options
from .specs.charts import KIALI_CHART
from .specs.common import service_host
from .specs.kiali import (
    OIDC_SECRET_KEY,
    SIGNING_KEY_SECRET_KEY,
    kiali_values,
    new_signing_key,
)

RELEASE_NAME = "kiali"
KIALI_PORT = 20001
KIALI_WEB_ROOT = "/kiali"


class Kiali(BuiltFromConfig[KialiComponentConfig], pulumi.ComponentResource):
    """Kiali (the upstream `kiali-server` chart) with tracing through Jaeger and metrics from
    Prometheus; anonymous access only in dev, a stable session signing key kept in a Secret."""

    url: pulumi.Output[str]
    """Kiali: the external URL when one is set, else the in-cluster one."""
    jaeger_query_url: pulumi.Output[str]
    """The Jaeger URL Kiali queries (its internal_url)."""
    prometheus_url: pulumi.Output[str]
    """The Prometheus URL Kiali queries."""

    def __init__(
        self,
        name: str,
        args: KialiArgs,
        opts: Optional[pulumi.ResourceOptions] = None,
    ) -> None:
        self._create(name, parse_args(name, KialiComponentConfig, args), opts)

    def _create(
        self, name: str, config: KialiComponentConfig, opts: Optional[pulumi.ResourceOptions]
    ) -> None:
        super().__init__("mesh-tracing:index:Kiali", name, {}, opts)
        settings = config.kiali
        jaeger_query_url = wired(config.jaeger_query_url)
        prometheus_url = wired(config.prometheus_url)
        child = child_options(self, opts)

        # Generated once and kept: a key made by the chart would change on every render, restart
        # Kiali and log everyone out on every `pulumi up`. Each run draws a fresh key, but the
        # Secret ignores changes to it (`data` too: the provider turns stringData into data before
        # diffing), so the first one stays in the cluster and in state; no
        # random provider is needed (the Go module proxy serves none to build one from).
        # Rotating it is `pulumi up --replace` of this Secret. A run that made the Secret but
        # never recorded it (killed, or its API server went away mid-create) leaves a key this
        # run's fresh one conflicts with under server-side apply: the create forces its own.
        signing_secret_name = f"{RELEASE_NAME}-signing-key"
        signing_secret = k8s.core.v1.Secret(
            f"{name}-signing-key",
            metadata={
                "name": signing_secret_name,
                "namespace": settings.namespace,
                "annotations": {"pulumi.com/patchForce": "true"},
            },
            string_data={SIGNING_KEY_SECRET_KEY: pulumi.Output.secret(new_signing_key())},
            opts=pulumi.ResourceOptions.merge(
                child, pulumi.ResourceOptions(ignore_changes=["stringData", "data"])
            ),
        )
        dependencies: list[pulumi.Resource] = [signing_secret]
        oidc_secret_name = None
        if settings.openid is not None:
            oidc_secret_name = f"{RELEASE_NAME}-oidc"
            dependencies.append(
                k8s.core.v1.Secret(
                    f"{name}-oidc",
                    metadata={"name": oidc_secret_name, "namespace": settings.namespace},
                    string_data={OIDC_SECRET_KEY: secret_output(settings.openid.client_secret)},
                    opts=child,
                )
            )

        release = pinned_release(
            f"{name}-release",
            KIALI_CHART,
            release_name=RELEASE_NAME,
            namespace=settings.namespace,
            values=kiali_values(
                settings,
                jaeger_internal_url=jaeger_query_url,
                jaeger_external_url=config.jaeger_external_url,
                prometheus_url=prometheus_url,
                istio_root_namespace=config.istio_root_namespace,
                signing_key_secret=signing_secret_name,
                oidc_secret=oidc_secret_name,
                image_registry=config.images.registry,
            ),
            charts=config.charts,
            opts=pulumi.ResourceOptions.merge(
                child, pulumi.ResourceOptions(depends_on=dependencies)
            ),
        )

        in_cluster = release.namespace.apply(
            lambda namespace: (
                f"http://{service_host(RELEASE_NAME, namespace)}:{KIALI_PORT}{KIALI_WEB_ROOT}"
            )
        )
        self.url = (
            pulumi.Output.from_input(settings.external_url) if settings.external_url else in_cluster
        )
        self.jaeger_query_url = pulumi.Output.from_input(jaeger_query_url)
        self.prometheus_url = pulumi.Output.from_input(prometheus_url)
        self.register_outputs(
            {
                "url": self.url,
                "jaeger_query_url": self.jaeger_query_url,
                "prometheus_url": self.prometheus_url,
            }
        )
