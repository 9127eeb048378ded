"""The MeshObservability component: Jaeger, Istio tracing, Prometheus and Kiali, wired."""

from typing import Any, Optional

import pulumi
import pulumi_kubernetes as k8s

from .args import MeshObservabilityArgs
from .config import (
    Deferred,
    IstioTracingComponentConfig,
    JaegerComponentConfig,
    KialiComponentConfig,
    PrometheusComponentConfig,
    StackConfig,
)
from .inputs import BuiltFromConfig, parse_args
from .istio_tracing import IstioTracing
from .jaeger import Jaeger
from .kiali import Kiali
from .options import child_options
from .prometheus import Prometheus


class MeshObservability(BuiltFromConfig[StackConfig], pulumi.ComponentResource):
    """Distributed tracing for an Istio mesh: a Jaeger v2 backend, the mesh's OpenTelemetry
    tracing provider pointed at it, Telemetry sampling mesh-wide and per namespace, and Kiali
    reading traces from that Jaeger and metrics from Prometheus."""

    kiali_url: pulumi.Output[str]
    """Kiali's URL."""
    jaeger_ui_url: pulumi.Output[str]
    """The Jaeger UI's URL."""
    otlp_endpoint: pulumi.Output[str]
    """host:port where the mesh sends spans (OTLP over gRPC)."""
    jaeger_query_url: pulumi.Output[str]
    """The Jaeger query URL Kiali uses."""
    prometheus_url: pulumi.Output[str]
    """The Prometheus URL Kiali uses."""
    mesh_config: pulumi.Output[dict[str, Any]]
    """The mesh config for tracing; merge it yourself when Istio is not installed here."""
    sampling_percent_by_namespace: pulumi.Output[dict[str, float]]
    """Deprecated (use trace_start_sampling_percent and gateway_sampling_percent): the sampling
    each namespace's own Telemetry sets, the root namespace carrying the mesh-wide value."""
    trace_start_sampling_percent: pulumi.Output[dict[str, float]]
    """Sampling of traces that start in each namespace (`*`: every namespace without an
    override). Traffic entering through a gateway keeps the gateway's decision instead."""
    gateway_sampling_percent: pulumi.Output[dict[str, float]]
    """Sampling at each gateway (`namespace/label=value`): of every request entering there."""

    def __init__(
        self,
        name: str,
        args: MeshObservabilityArgs,
        opts: Optional[pulumi.ResourceOptions] = None,
    ) -> None:
        # The whole configuration is validated at once, so that cross-section rules (a namespace
        # override of the root namespace, say) hold for components used together as well.
        self._create(name, parse_args(name, StackConfig, args), opts)

    def _create(
        self, name: str, settings: StackConfig, opts: Optional[pulumi.ResourceOptions]
    ) -> None:
        super().__init__("mesh-tracing:index:MeshObservability", name, {}, opts)
        environment = settings.environment

        namespaces = self._namespaces(name, settings, opts)
        in_namespaces = pulumi.ResourceOptions.merge(
            child_options(self, opts), pulumi.ResourceOptions(depends_on=namespaces)
        )

        # The children get slices of the validated model, built without validating again.
        jaeger = Jaeger.from_config(
            f"{name}-jaeger",
            JaegerComponentConfig.model_construct(
                environment=environment,
                jaeger=settings.jaeger,
                charts=settings.charts,
                images=settings.images,
                kiali_namespace=settings.kiali.namespace,
            ),
            opts=in_namespaces,
        )
        tracing = IstioTracing.from_config(
            f"{name}-istio",
            IstioTracingComponentConfig.model_construct(
                environment=environment,
                tracing=settings.tracing,
                istio=settings.istio,
                charts=settings.charts,
                images=settings.images,
                otlp_service_host=Deferred(jaeger.otlp_grpc_host),
                otlp_port=Deferred(jaeger.otlp_grpc_port),
            ),
            opts=child_options(self, opts),
        )
        prometheus = Prometheus.from_config(
            f"{name}-prometheus",
            PrometheusComponentConfig.model_construct(
                environment=environment,
                prometheus=settings.prometheus,
                charts=settings.charts,
                images=settings.images,
            ),
            opts=in_namespaces,
        )
        jaeger_query_url = (
            jaeger.query_grpc_url if settings.kiali.use_grpc else jaeger.query_http_url
        )
        kiali = Kiali.from_config(
            f"{name}-kiali",
            KialiComponentConfig.model_construct(
                environment=environment,
                kiali=settings.kiali,
                charts=settings.charts,
                images=settings.images,
                jaeger_query_url=Deferred(jaeger_query_url),
                jaeger_external_url=settings.jaeger.external_url,
                prometheus_url=Deferred(prometheus.url),
                istio_root_namespace=settings.istio.root_namespace,
            ),
            opts=in_namespaces,
        )

        self.kiali_url = kiali.url
        self.jaeger_ui_url = jaeger.ui_url
        self.otlp_endpoint = jaeger.otlp_grpc_endpoint
        self.jaeger_query_url = kiali.jaeger_query_url
        self.prometheus_url = kiali.prometheus_url
        self.mesh_config = tracing.mesh_config
        self.sampling_percent_by_namespace = tracing.sampling_percent_by_namespace
        self.trace_start_sampling_percent = tracing.trace_start_sampling_percent
        self.gateway_sampling_percent = tracing.gateway_sampling_percent
        self.register_outputs(
            {
                "kiali_url": self.kiali_url,
                "jaeger_ui_url": self.jaeger_ui_url,
                "otlp_endpoint": self.otlp_endpoint,
                "jaeger_query_url": self.jaeger_query_url,
                "prometheus_url": self.prometheus_url,
                "mesh_config": self.mesh_config,
                "sampling_percent_by_namespace": self.sampling_percent_by_namespace,
                "trace_start_sampling_percent": self.trace_start_sampling_percent,
                "gateway_sampling_percent": self.gateway_sampling_percent,
            }
        )

    def _namespaces(
        self, name: str, settings: StackConfig, opts: Optional[pulumi.ResourceOptions]
    ) -> list[k8s.core.v1.Namespace]:
        wanted = {settings.jaeger.namespace, settings.kiali.namespace}
        if settings.prometheus.install:
            wanted.add(settings.prometheus.namespace)
        # Deleting a namespace deletes everything in it, the retained trace volumes included: it
        # outlives the stack, and production refuses to delete it at all.
        return [
            k8s.core.v1.Namespace(
                f"{name}-namespace-{namespace}",
                metadata={
                    "name": namespace,
                    "labels": {"app.kubernetes.io/part-of": "mesh-tracing"},
                },
                opts=child_options(
                    self, opts, retain_on_delete=True, protect=settings.environment == "prod"
                ),
            )
            for namespace in sorted(wanted)
        ]
