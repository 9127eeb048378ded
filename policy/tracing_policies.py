"""CrossGuard policies that keep production tracing safe, whatever program registered it.

The checks are plain functions over a resource's type, name and inputs, so that they can be
tested without a policy engine; the `pulumi_policy` objects at the bottom wrap them. This module
deliberately does not import mesh_tracing: it has to judge stacks that do not use our components.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Optional

import yaml

from mesh_tracing_production import (
    DEFAULT_PRODUCTION_STACK_PATTERNS,
    PRODUCTION_SAMPLING_CAP_PERCENT,
)
from mesh_tracing_production import is_production as _is_production

DEFAULT_SAMPLING_CAP_PERCENT = PRODUCTION_SAMPLING_CAP_PERCENT
ENVIRONMENT_CONFIG_KEY = "mesh-tracing:environment"

TELEMETRY_TYPES = (
    "kubernetes:telemetry.istio.io/v1:Telemetry",
    "kubernetes:telemetry.istio.io/v1alpha1:Telemetry",
)
HELM_TYPES = ("kubernetes:helm.sh/v3:Release", "kubernetes:helm.sh/v4:Chart")
ISTIO_OPERATOR_TYPE = "kubernetes:install.istio.io/v1alpha1:IstioOperator"
CONFIG_MAP_TYPE = "kubernetes:core/v1:ConfigMap"
KIALI_CR_TYPE = "kubernetes:kiali.io/v1alpha1:Kiali"
JAEGER_CR_TYPE = "kubernetes:jaegertracing.io/v1:Jaeger"
MESH_TRACING_ISTIO_TYPE = "mesh-tracing:index:IstioTracing"
VOLATILE_JAEGER_STORAGE = ("memory", "badger")


# --- what counts as production -------------------------------------------------------------


@dataclass(frozen=True)
class PolicySettings:
    sampling_cap_percent: float = DEFAULT_SAMPLING_CAP_PERCENT
    production_stack_patterns: tuple[str, ...] = DEFAULT_PRODUCTION_STACK_PATTERNS

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> PolicySettings:
        """Policy config as the engine passes it; unset keys keep their defaults."""
        cap = config.get("maxSamplingPercent", DEFAULT_SAMPLING_CAP_PERCENT)
        patterns = config.get("productionStackPatterns", DEFAULT_PRODUCTION_STACK_PATTERNS)
        return cls(sampling_cap_percent=float(cap), production_stack_patterns=tuple(patterns))


def is_production(stack: str, environment: Optional[str], settings: PolicySettings) -> bool:
    """Production by the stack's own declaration or by its name, as the config models judge it."""
    return _is_production(stack, environment, settings.production_stack_patterns)


def describe(resource_type: str, name: str) -> str:
    return f"{resource_type.rsplit(':', 1)[-1]} '{name}' ({resource_type})"


def _number(value: Any) -> Optional[float]:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        try:
            return float(value)
        except (TypeError, ValueError):
            return None
    return float(value)


def _above(value: Any, cap: float) -> bool:
    number = _number(value)
    return number is None or math.isnan(number) or number > cap


def _get(mapping: Any, *path: str) -> Any:
    node = mapping
    for part in path:
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def chart_name(chart: Any) -> str:
    """`istiod`, `istio/istiod`, `oci://host/charts/istiod` and `.../istiod-1.31.1.tgz` all name
    the istiod chart."""
    last = str(chart or "").rstrip("/").rsplit("/", 1)[-1]
    if last.endswith(".tgz"):
        stem = last[: -len(".tgz")]
        name, _, version = stem.rpartition("-")
        if name and version[:1].isdigit():
            return name
        return stem
    return last


# --- resource checks ------------------------------------------------------------------------


def telemetry_violations(
    resource_type: str, name: str, props: Mapping[str, Any], cap: float
) -> list[str]:
    """Every tracing rule of a production Telemetry sets a sampling percentage within the cap."""
    if resource_type not in TELEMETRY_TYPES:
        return []
    rules = _get(props, "spec", "tracing") or []
    problems = []
    for index, rule in enumerate(rules):
        path = f"spec.tracing[{index}].randomSamplingPercentage"
        value = rule.get("randomSamplingPercentage") if isinstance(rule, Mapping) else None
        if value is None:
            problems.append(
                f"{describe(resource_type, name)}: {path} is missing; Istio would fall back to "
                f"settings this pack cannot see. Set it explicitly, at most {cap:g}."
            )
        elif _above(value, cap):
            problems.append(
                f"{describe(resource_type, name)}: {path} = {value} is above the production cap "
                f"of {cap:g} percent."
            )
    return problems


def declared_mesh_config(resource_type: str, props: Mapping[str, Any]) -> Optional[tuple[str, Any]]:
    """(field path prefix, mesh config) where a resource declares Istio's mesh config: istiod's
    chart values, an IstioOperator or the `istio` ConfigMap (YAML in `data.mesh`)."""
    if resource_type in HELM_TYPES and chart_name(props.get("chart")) == "istiod":
        return "values.meshConfig.", _get(props, "values", "meshConfig")
    if resource_type == ISTIO_OPERATOR_TYPE:
        return "spec.meshConfig.", _get(props, "spec", "meshConfig")
    if resource_type == CONFIG_MAP_TYPE and isinstance(_get(props, "data", "mesh"), str):
        try:
            return "data.mesh: ", yaml.safe_load(props["data"]["mesh"])
        except yaml.YAMLError:
            return None
    return None


def _legacy_sampling_paths(resource_type: str, props: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """(field path, value) of every legacy sampling setting visible in the resource's inputs."""
    found: list[tuple[str, Any]] = []
    if resource_type in HELM_TYPES and chart_name(props.get("chart")) == "istiod":
        for path in (("traceSampling",), ("pilot", "traceSampling")):
            found.append(("values." + ".".join(path), _get(props.get("values"), *path)))
    elif resource_type == ISTIO_OPERATOR_TYPE:
        found.append(
            (
                "spec.values.pilot.traceSampling",
                _get(props, "spec", "values", "pilot", "traceSampling"),
            )
        )
    declared = declared_mesh_config(resource_type, props)
    if declared is not None:
        prefix, mesh = declared
        found.append(
            (
                f"{prefix}defaultConfig.tracing.sampling",
                _get(mesh, "defaultConfig", "tracing", "sampling"),
            )
        )
    return [(path, value) for path, value in found if value is not None]


def legacy_sampling_violations(
    resource_type: str, name: str, props: Mapping[str, Any], cap: float
) -> list[str]:
    """istiod's trace sampling value and the mesh config's proxy default stay within the cap."""
    return [
        f"{describe(resource_type, name)}: {path} = {value} is above the production cap of "
        f"{cap:g} percent."
        for path, value in _legacy_sampling_paths(resource_type, props)
        if _above(value, cap)
    ]


def kiali_auth_violations(resource_type: str, name: str, props: Mapping[str, Any]) -> list[str]:
    """Production Kiali requires a login."""
    if resource_type in HELM_TYPES and chart_name(props.get("chart")) == "kiali-server":
        path, strategy = "values.auth.strategy", _get(props.get("values"), "auth", "strategy")
    elif resource_type == KIALI_CR_TYPE:
        path, strategy = "spec.auth.strategy", _get(props, "spec", "auth", "strategy")
    else:
        return []
    if strategy == "anonymous":
        return [
            f"{describe(resource_type, name)}: {path} = anonymous lets anyone who reaches Kiali "
            "act with Kiali's own permissions; use token, openid or header in production."
        ]
    return []


def jaeger_storage_violations(resource_type: str, name: str, props: Mapping[str, Any]) -> list[str]:
    """Production Jaeger keeps spans in a replicated store, not in a pod's memory or disk."""
    problems = []
    if resource_type in HELM_TYPES and chart_name(props.get("chart")) == "jaeger":
        values = props.get("values") or {}
        backends = _get(values, "userconfig", "extensions", "jaeger_storage", "backends")
        if not values.get("userconfig"):
            problems.append(
                f"{describe(resource_type, name)}: values.userconfig is not set, so the chart runs "
                "Jaeger's built-in memory storage."
            )
        for backend_name, backend in (backends or {}).items():
            for kind in VOLATILE_JAEGER_STORAGE:
                if isinstance(backend, Mapping) and kind in backend:
                    problems.append(
                        f"{describe(resource_type, name)}: values.userconfig.extensions."
                        f"jaeger_storage.backends.{backend_name}.{kind} keeps spans in one pod; "
                        "use elasticsearch, opensearch or cassandra in production."
                    )
        storage_type = _get(values, "storage", "type")
        if storage_type in VOLATILE_JAEGER_STORAGE:
            problems.append(
                f"{describe(resource_type, name)}: values.storage.type = {storage_type} keeps "
                "spans in one pod; use elasticsearch, opensearch or cassandra in production."
            )
    elif resource_type == JAEGER_CR_TYPE:
        storage_type = _get(props, "spec", "storage", "type") or "memory"
        if storage_type in VOLATILE_JAEGER_STORAGE:
            problems.append(
                f"{describe(resource_type, name)}: spec.storage.type = {storage_type} keeps spans "
                "in one pod; use elasticsearch, opensearch or cassandra in production."
            )
    return problems


# --- stack check ----------------------------------------------------------------------------


@dataclass(frozen=True)
class StackResource:
    resource_type: str
    name: str
    urn: str
    props: Mapping[str, Any]


def _mesh_configs(resource: StackResource) -> Iterable[Any]:
    """Mesh configs a resource declares, the mesh config our IstioTracing component says the
    mesh must carry included."""
    if resource.resource_type == MESH_TRACING_ISTIO_TYPE:
        yield resource.props.get("mesh_config")
        return
    declared = declared_mesh_config(resource.resource_type, resource.props)
    if declared is not None:
        yield declared[1]


def missing_provider_violations(resources: Sequence[StackResource]) -> list[tuple[str, str]]:
    """(message, urn) for each Telemetry tracing rule whose provider no mesh config in the stack
    defines. A rule without providers uses the mesh's default tracing providers."""
    defined: set[str] = set()
    defaults: list[str] = []
    for resource in resources:
        for mesh in _mesh_configs(resource):
            for provider in _get(mesh, "extensionProviders") or []:
                if isinstance(provider, Mapping) and provider.get("name"):
                    defined.add(str(provider["name"]))
            defaults.extend(_get(mesh, "defaultProviders", "tracing") or [])
    problems = []
    for resource in resources:
        if resource.resource_type not in TELEMETRY_TYPES:
            continue
        for index, rule in enumerate(_get(resource.props, "spec", "tracing") or []):
            named = [p.get("name") for p in (rule.get("providers") or []) if isinstance(p, Mapping)]
            wanted = named or defaults[:1]
            missing = [provider for provider in wanted if provider not in defined]
            if not wanted:
                problems.append(
                    (
                        f"{describe(resource.resource_type, resource.name)}: spec.tracing[{index}] "
                        "names no provider and no mesh config in this stack sets "
                        "defaultProviders.tracing.",
                        resource.urn,
                    )
                )
            elif missing:
                names = ", ".join(map(str, missing))
                known = ", ".join(sorted(defined)) or "none"
                problems.append(
                    (
                        f"{describe(resource.resource_type, resource.name)}: "
                        f"spec.tracing[{index}].providers names {names}, which no mesh config in "
                        f"this stack defines (defined: {known}).",
                        resource.urn,
                    )
                )
    return problems
