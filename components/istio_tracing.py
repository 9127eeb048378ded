"""The IstioTracing component: the mesh's tracing provider and Telemetry sampling."""

from typing import Any, Optional

import pulumi
import pulumi_kubernetes as k8s

from .args import IstioTracingArgs
from .config import IstioTracingComponentConfig, sampling_percent_by_namespace
from .helm import pinned_release
from .inputs import BuiltFromConfig, parse_args, wired
from .options import child_options
from .specs.gateways import (
    ENVOY_FILTER_API_VERSION,
    ENVOY_FILTER_KIND,
    client_trace_context_filter,
    trusts_client_trace_context,
)
from .specs.istio import (
    ISTIO_BASE_CHART,
    ISTIOD_CHART,
    istio_base_values,
    istiod_values,
    tracing_mesh_config,
)
from .specs.telemetry import (
    TELEMETRY_API_VERSION,
    TELEMETRY_KIND,
    gateway_sampling_percent,
    gateway_telemetry_manifests,
    sampling_warnings,
    telemetry_manifests,
    trace_start_sampling_percent,
)

# Server-side apply refuses to take back a field another manager set since (`kubectl patch` of
# the sampling, say), and `pulumi up --refresh` would fail on the conflict instead of restoring
# it. The sampling objects are this stack's alone, so its apply forces its values back.
PATCH_FORCE_ANNOTATION = "pulumi.com/patchForce"


def _owned_metadata(manifest: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": manifest["name"],
        "namespace": manifest["namespace"],
        "annotations": {PATCH_FORCE_ANNOTATION: "true"},
    }


class IstioTracing(BuiltFromConfig[IstioTracingComponentConfig], pulumi.ComponentResource):
    """Istio's OpenTelemetry tracing provider pointed at an OTLP gRPC service, and one
    `telemetry.istio.io/v1` Telemetry per namespace with its sampling percentage set explicitly.
    Installs Istio's base and istiod charts with that mesh config when `istio.install` is true;
    otherwise leaves the control plane alone and outputs the mesh config to merge."""

    provider_name: pulumi.Output[str]
    """Name of the tracing extension provider every Telemetry names."""
    mesh_config: pulumi.Output[dict[str, Any]]
    """The mesh config this stack needs; merge it yourself when Istio is not installed here."""
    sampling_percent_by_namespace: pulumi.Output[dict[str, float]]
    """Deprecated (use trace_start_sampling_percent and gateway_sampling_percent): the sampling
    each namespace's own Telemetry sets, the root namespace carrying the mesh-wide value."""
    trace_start_sampling_percent: pulumi.Output[dict[str, float]]
    """Sampling of traces that start in each namespace (`*`: every namespace without an
    override). Traffic entering through a gateway keeps the gateway's decision instead."""
    gateway_sampling_percent: pulumi.Output[dict[str, float]]
    """Sampling at each gateway (`namespace/label=value`): of every request entering there."""
    istio_installed: pulumi.Output[bool]
    """Whether this component installed Istio's control plane."""

    def __init__(
        self,
        name: str,
        args: IstioTracingArgs,
        opts: Optional[pulumi.ResourceOptions] = None,
    ) -> None:
        self._create(name, parse_args(name, IstioTracingComponentConfig, args), opts)

    def _create(
        self,
        name: str,
        config: IstioTracingComponentConfig,
        opts: Optional[pulumi.ResourceOptions],
    ) -> None:
        tracing, istio = config.tracing, config.istio
        mesh_config = tracing_mesh_config(
            tracing.provider_name,
            wired(config.otlp_service_host),
            wired(config.otlp_port),
            root_namespace=istio.root_namespace,
        )
        sampling = sampling_percent_by_namespace(tracing, istio)
        # The mesh config is registered as the component's own input: when Istio is managed
        # elsewhere, it is the only place a policy engine can see which provider the Telemetry
        # resources expect the mesh to define.
        super().__init__(
            "mesh-tracing:index:IstioTracing",
            name,
            {
                "provider_name": tracing.provider_name,
                "mesh_config": mesh_config,
                "istio_installed": istio.install,
            },
            opts,
        )

        control_plane: list[pulumi.Resource] = []
        if istio.install:
            development = config.environment == "dev"
            control_plane = self._install_istio(name, config, mesh_config, opts, development)

        manifests = telemetry_manifests(
            istio.root_namespace, tracing.provider_name, tracing.sampling, tracing.namespaces
        )
        telemetry_options = pulumi.ResourceOptions.merge(
            child_options(self, opts), pulumi.ResourceOptions(depends_on=control_plane)
        )
        # Named by namespace (and a gateway's by its Telemetry's name too), so adding or removing
        # one never renames another.
        resource_names = {f"{name}-telemetry-{namespace}": m for namespace, m in manifests.items()}
        for manifest in gateway_telemetry_manifests(tracing.provider_name, tracing.gateways):
            resource_names[f"{name}-telemetry-{manifest['namespace']}-{manifest['name']}"] = (
                manifest
            )
        for resource_name, manifest in resource_names.items():
            k8s.apiextensions.CustomResource(
                resource_name,
                api_version=TELEMETRY_API_VERSION,
                kind=TELEMETRY_KIND,
                metadata=_owned_metadata(manifest),
                spec=manifest["spec"],
                opts=telemetry_options,
            )
        production = config.environment == "prod"
        for gateway in tracing.gateways:
            if trusts_client_trace_context(gateway, production=production):
                continue
            manifest = client_trace_context_filter(gateway)
            k8s.apiextensions.CustomResource(
                f"{name}-envoyfilter-{manifest['namespace']}-{manifest['name']}",
                api_version=ENVOY_FILTER_API_VERSION,
                kind=ENVOY_FILTER_KIND,
                metadata=_owned_metadata(manifest),
                spec=manifest["spec"],
                opts=telemetry_options,
            )
        for warning in sampling_warnings(tracing, production=production):
            pulumi.log.warn(warning, resource=self)

        self.provider_name = pulumi.Output.from_input(tracing.provider_name)
        self.mesh_config = pulumi.Output.from_input(mesh_config)
        self.sampling_percent_by_namespace = pulumi.Output.from_input(sampling)
        self.trace_start_sampling_percent = pulumi.Output.from_input(
            trace_start_sampling_percent(tracing, istio)
        )
        self.gateway_sampling_percent = pulumi.Output.from_input(gateway_sampling_percent(tracing))
        self.istio_installed = pulumi.Output.from_input(istio.install)
        self.register_outputs(
            {
                "provider_name": self.provider_name,
                "mesh_config": self.mesh_config,
                "sampling_percent_by_namespace": self.sampling_percent_by_namespace,
                "trace_start_sampling_percent": self.trace_start_sampling_percent,
                "gateway_sampling_percent": self.gateway_sampling_percent,
                "istio_installed": self.istio_installed,
            }
        )

    def _install_istio(
        self,
        name: str,
        config: IstioTracingComponentConfig,
        mesh_config: dict[str, Any],
        opts: Optional[pulumi.ResourceOptions],
        development: bool,
    ) -> list[pulumi.Resource]:
        istio = config.istio
        base = pinned_release(
            f"{name}-istio-base",
            ISTIO_BASE_CHART,
            release_name="istio-base",
            namespace=istio.root_namespace,
            values=istio_base_values(istio.root_namespace),
            charts=config.charts,
            opts=child_options(self, opts),
        )
        istiod = pinned_release(
            f"{name}-istiod",
            ISTIOD_CHART,
            release_name="istiod",
            namespace=istio.root_namespace,
            values=istiod_values(
                istio.root_namespace,
                istio.istiod_replicas,
                mesh_config,
                small=development,
                image_registry=config.images.registry,
            ),
            charts=config.charts,
            opts=pulumi.ResourceOptions.merge(
                child_options(self, opts), pulumi.ResourceOptions(depends_on=[base])
            ),
        )
        return [base, istiod]
