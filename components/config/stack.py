"""The whole configuration of a stack, what each component is given, and the rules between
sections.

A component's configuration is the part of the stack's it needs, under the same keys, so a
mistake reads the same whichever way it comes in.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Optional

from pydantic import BaseModel, Field

from ..specs.charts import (
    ISTIO_BASE_CHART,
    ISTIOD_CHART,
    JAEGER_CHART,
    KIALI_CHART,
    PROMETHEUS_CHART,
    is_remote_source,
    local_chart,
)
from .defaults import Environment
from .fields import (
    SAMPLING_ALLOWED,
    HttpUrl,
    NamespaceName,
    StrictModel,
    WiredPort,
    WiredText,
    allowed,
)
from .rules import RuleInput, Violation, rule
from .sections import (
    ChartsConfig,
    ImagesConfig,
    IstioConfig,
    JaegerConfig,
    KialiConfig,
    PrometheusConfig,
    TracingConfig,
)

_ENVIRONMENT = Field(
    description="Which environment this stack is.",
    json_schema_extra=allowed("dev, staging or prod"),
)
_CHARTS = Field(default_factory=ChartsConfig, description="Where the pinned charts come from.")
_IMAGES = Field(default_factory=ImagesConfig, description="Where images are pulled from.")


class StackConfig(StrictModel):
    """The whole `mesh-tracing:` configuration of one stack, and the args of MeshObservability."""

    environment: Environment = _ENVIRONMENT
    tracing: TracingConfig = Field(description="Sampling; `tracing: {sampling: X}` is complete.")
    istio: IstioConfig
    jaeger: JaegerConfig
    prometheus: PrometheusConfig
    kiali: KialiConfig
    charts: ChartsConfig = _CHARTS
    images: ImagesConfig = _IMAGES

    def sampling_percent_by_namespace(self) -> dict[str, float]:
        return sampling_percent_by_namespace(self.tracing, self.istio)


class JaegerComponentConfig(StrictModel):
    """What the Jaeger component is given."""

    environment: Environment = _ENVIRONMENT
    jaeger: JaegerConfig
    charts: ChartsConfig = _CHARTS
    images: ImagesConfig = _IMAGES
    kiali_namespace: Optional[NamespaceName] = Field(
        default=None,
        description="Namespace of the Kiali allowed to query this Jaeger through its "
        "NetworkPolicy.",
    )


class IstioTracingComponentConfig(StrictModel):
    """What the IstioTracing component is given."""

    environment: Environment = _ENVIRONMENT
    tracing: TracingConfig
    istio: IstioConfig
    charts: ChartsConfig = _CHARTS
    images: ImagesConfig = _IMAGES
    otlp_service_host: WiredText = Field(
        description="Cluster DNS name of the OTLP gRPC service traces are sent to."
    )
    otlp_port: WiredPort = Field(description="Port of the OTLP gRPC service.")


class PrometheusComponentConfig(StrictModel):
    """What the Prometheus component is given."""

    environment: Environment = _ENVIRONMENT
    prometheus: PrometheusConfig
    charts: ChartsConfig = _CHARTS
    images: ImagesConfig = _IMAGES


class KialiComponentConfig(StrictModel):
    """What the Kiali component is given."""

    environment: Environment = _ENVIRONMENT
    kiali: KialiConfig
    charts: ChartsConfig = _CHARTS
    images: ImagesConfig = _IMAGES
    jaeger_query_url: WiredText = Field(
        description="Jaeger's query URL: gRPC (port 16685) when kiali.use_grpc, else HTTP with "
        "the base path."
    )
    jaeger_external_url: Optional[HttpUrl] = Field(
        default=None, description="Browser-facing Jaeger UI URL, for Kiali's trace links."
    )
    prometheus_url: WiredText = Field(description="URL of the Prometheus Kiali reads.")
    istio_root_namespace: NamespaceName = Field(
        default="istio-system", description="The mesh's root namespace (istio.root_namespace)."
    )


def _as_dicts(gateways: Any) -> list[dict[str, Any]]:
    """Gateways as plain data, whether validated models or the raw mappings of a config whose
    other fields are wrong."""
    return [
        gateway.model_dump() if isinstance(gateway, BaseModel) else dict(gateway)
        for gateway in gateways or []
    ]


def _as_dicts(gateways: Any) -> list[dict[str, Any]]:
    """Gateways as plain data, whether validated models or the raw mappings of a config whose
    other fields are wrong."""
    return [
        gateway.model_dump() if isinstance(gateway, BaseModel) else dict(gateway)
        for gateway in gateways or []
    ]


def sampling_percent_by_namespace(tracing: TracingConfig, istio: IstioConfig) -> dict[str, float]:
    """The sampling each namespace's own Telemetry sets: the root namespace carries the
    mesh-wide value."""
    mesh_wide = {} if tracing.sampling is None else {istio.root_namespace: tracing.sampling}
    return {**mesh_wide, **tracing.namespaces}


# The stack and IstioTracing used alone share these rules, so a mistake reads the same in both.
_TELEMETRY_MODELS = (StackConfig, IstioTracingComponentConfig)


@rule(*_TELEMETRY_MODELS, reads=("tracing.sampling", "istio.own_mesh_default"))
def _mesh_default_ownership(given: RuleInput) -> Iterator[Violation]:
    sampling, owns = given.get("tracing.sampling"), given.get("istio.own_mesh_default")
    if owns and sampling is None:
        yield Violation(
            "tracing.sampling",
            None,
            "required: this stack owns the mesh-wide Telemetry",
            SAMPLING_ALLOWED,
        )
    if not owns and sampling is not None:
        yield Violation(
            "tracing.sampling",
            sampling,
            "not used: istio.own_mesh_default is false, so another stack owns the mesh-wide "
            "sampling",
            "unset when istio.own_mesh_default is false",
        )


@rule(*_TELEMETRY_MODELS, reads=("tracing.namespaces", "istio.own_mesh_default"))
def _overrides_only_needs_overrides(given: RuleInput) -> Iterator[Violation]:
    if not given.get("istio.own_mesh_default") and not given.get("tracing.namespaces"):
        yield Violation(
            "tracing.namespaces",
            {},
            "with istio.own_mesh_default false, the per-namespace overrides are all this stack "
            "manages",
            "at least one namespace",
        )


@rule(
    StackConfig, IstioTracingComponentConfig, reads=("tracing.namespaces", "istio.root_namespace")
)
def _root_namespace_is_mesh_wide(given: RuleInput) -> Iterator[Violation]:
    # Two selector-less Telemetry resources in one namespace leave Istio to pick one; the root
    # namespace holds the mesh-wide one.
    root, namespaces = given.get("istio.root_namespace"), given.get("tracing.namespaces") or {}
    if root in namespaces:
        yield Violation(
            f"tracing.namespaces.{root}",
            namespaces[root],
            f"{root} is the Istio root namespace; its sampling is tracing.sampling",
            "namespaces other than the Istio root namespace",
        )


@rule(
    StackConfig,
    JaegerComponentConfig,
    IstioTracingComponentConfig,
    PrometheusComponentConfig,
    KialiComponentConfig,
    reads=("charts.source", "istio.install", "prometheus.install"),
)
def _local_charts_are_there(given: RuleInput) -> Iterator[Violation]:
    source = given.get("charts.source")
    if source is None or is_remote_source(source):
        return
    sections = given.model.model_fields
    needed = [
        chart
        for chart, wanted in (
            (JAEGER_CHART, "jaeger" in sections),
            (KIALI_CHART, "kiali" in sections),
            (PROMETHEUS_CHART, "prometheus" in sections and given.get("prometheus.install")),
            (ISTIO_BASE_CHART, "istio" in sections and given.get("istio.install")),
            (ISTIOD_CHART, "istio" in sections and given.get("istio.install")),
        )
        if wanted
    ]
    missing = [chart for chart in needed if local_chart(source, chart) is None]
    if missing:
        yield Violation(
            "charts.source",
            source,
            "missing here: "
            + ", ".join(f"{chart.chart} {chart.version}" for chart in missing)
            + " (neither <name>/Chart.yaml nor <name>-<version>.tgz)",
            "a directory holding every chart this configuration installs: "
            + ", ".join(chart.chart for chart in needed),
        )


@rule(*_TELEMETRY_MODELS, reads=("tracing.gateways",))
def _gateways_are_distinct(given: RuleInput) -> Iterator[Violation]:
    from ..specs.telemetry import gateway_telemetry_name

    seen: dict[tuple[str, tuple[tuple[str, str], ...]], int] = {}
    names: dict[tuple[str, str], int] = {}
    for index, gateway in enumerate(_as_dicts(given.get("tracing.gateways"))):
        selector = gateway.get("selector") or {"istio": "ingressgateway"}
        key = (gateway["namespace"], tuple(sorted(selector.items())))
        if key in seen:
            yield Violation(
                f"tracing.gateways[{index}]",
                gateway,
                f"the same gateway as tracing.gateways[{seen[key]}] (same namespace and selector)",
                "one entry per gateway",
            )
            continue
        seen[key] = index
        name = (gateway["namespace"], gateway_telemetry_name(selector))
        if name in names:
            yield Violation(
                f"tracing.gateways[{index}].selector",
                selector,
                f"its Telemetry would be named {name[1]} in {name[0]}, like that of "
                f"tracing.gateways[{names[name]}]",
                "selector values that differ from the other gateway's in that namespace",
            )
        names[name] = index
