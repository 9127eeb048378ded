"""CrossGuard policies that keep production tracing safe, whatever program registered it.

The checks are plain functions over a resource's type, name and inputs, so that they can be
tested without a policy engine; `pack.py` wraps them in `pulumi_policy` objects. The sampling
knobs themselves live in `sampling_knobs`. This module deliberately does not import mesh_tracing:
it has to judge stacks that do not use our components.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Optional

from mesh_tracing_production import (
    DEFAULT_PRODUCTION_STACK_PATTERNS,
    PRODUCTION_SAMPLING_CAP_PERCENT,
    named_like_production,
)
from mesh_tracing_production import is_production as _is_production
from sampling_knobs import (
    Finding,
    chart_name,
    kinds,
    number,
    parse_documents,
    plain,
    sampling_findings,
)

DEFAULT_SAMPLING_CAP_PERCENT = PRODUCTION_SAMPLING_CAP_PERCENT
ENVIRONMENT_CONFIG_KEY = "mesh-tracing:environment"

HELM_TYPES = ("kubernetes:helm.sh/v3:Release", "kubernetes:helm.sh/v4:Chart")
ISTIO_OPERATOR_TYPE = "kubernetes:install.istio.io/v1alpha1:IstioOperator"
CONFIG_MAP_TYPE = "kubernetes:core/v1:ConfigMap"
KIALI_CR_TYPE = "kubernetes:kiali.io/v1alpha1:Kiali"
JAEGER_CR_TYPE = "kubernetes:jaegertracing.io/v1:Jaeger"
MESH_TRACING_ISTIO_TYPE = "mesh-tracing:index:IstioTracing"
VOLATILE_JAEGER_STORAGE = ("memory", "badger")
ISTIOD_CHARTS = ("istiod", "istio-discovery")

__all__ = [
    "DEFAULT_PRODUCTION_STACK_PATTERNS",
    "DEFAULT_SAMPLING_CAP_PERCENT",
    "ENVIRONMENT_CONFIG_KEY",
    "Finding",
    "PolicySettings",
    "StackResource",
    "chart_name",
    "declared_mesh_config",
    "is_production",
    "is_telemetry",
    "jaeger_storage_violations",
    "kiali_auth_violations",
    "legacy_sampling_findings",
    "legacy_sampling_violations",
    "missing_provider_violations",
    "number",
    "parse_documents",
    "plain",
    "telemetry_findings",
    "telemetry_violations",
]


# --- what counts as production -------------------------------------------------------------


@dataclass(frozen=True)
class PolicySettings:
    sampling_cap_percent: float = DEFAULT_SAMPLING_CAP_PERCENT
    production_stack_patterns: tuple[str, ...] = DEFAULT_PRODUCTION_STACK_PATTERNS

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> PolicySettings:
        """Policy config as the engine passes it; unset keys keep their defaults.

        Config can only tighten: `maxSamplingPercent` may lower the cap, never raise it above
        the production cap (the cap is the promise; a value that is no number keeps the
        default), and `productionStackPatterns` add to the default patterns, never replace them.
        """
        requested = number(config.get("maxSamplingPercent", DEFAULT_SAMPLING_CAP_PERCENT))
        cap = DEFAULT_SAMPLING_CAP_PERCENT
        if requested is not None and not math.isnan(requested) and requested >= 0:
            cap = min(requested, DEFAULT_SAMPLING_CAP_PERCENT)
        patterns = config.get("productionStackPatterns") or ()
        extra = tuple(str(p) for p in patterns if str(p) not in DEFAULT_PRODUCTION_STACK_PATTERNS)
        return cls(
            sampling_cap_percent=cap,
            production_stack_patterns=DEFAULT_PRODUCTION_STACK_PATTERNS + extra,
        )


def is_production(stack: str, environment: Optional[str], settings: PolicySettings) -> bool:
    """Production by the stack's own declaration or by its name, as the config models judge it;
    the pack also takes an environment named like production (`Prod`, `production`) as one."""
    patterns = settings.production_stack_patterns
    return _is_production(stack, environment, patterns) or (
        isinstance(environment, str) and named_like_production(environment, patterns)
    )


def describe(resource_type: str, name: str) -> str:
    return f"{resource_type.rsplit(':', 1)[-1]} '{name}' ({resource_type})"


def _get(mapping: Any, *path: str) -> Any:
    node = mapping
    for part in path:
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


# --- sampling: every knob is in sampling_knobs; here they are split between the two policies --


def is_telemetry(resource_type: str, props: Mapping[str, Any]) -> bool:
    """A Telemetry of any API version, a TelemetryPatch, or a generic resource whose inputs say
    it is one: these are judged by `telemetry-sampling-cap`, every other knob by
    `istio-legacy-sampling-cap`."""
    return "Telemetry" in kinds(resource_type, props)


def telemetry_findings(resource_type: str, props: Mapping[str, Any], cap: float) -> list[Finding]:
    return (
        sampling_findings(resource_type, props, cap) if is_telemetry(resource_type, props) else []
    )


def legacy_sampling_findings(
    resource_type: str, props: Mapping[str, Any], cap: float
) -> list[Finding]:
    if is_telemetry(resource_type, props):
        return []
    return sampling_findings(resource_type, props, cap)


def _messages(resource_type: str, name: str, findings: Iterable[Finding]) -> list[str]:
    return [f"{describe(resource_type, name)}: {finding.message}" for finding in findings]


def telemetry_violations(
    resource_type: str, name: str, props: Mapping[str, Any], cap: float
) -> list[str]:
    """Every tracing rule of a production Telemetry sets a sampling percentage within the cap."""
    return _messages(resource_type, name, telemetry_findings(resource_type, props, cap))


def legacy_sampling_violations(
    resource_type: str, name: str, props: Mapping[str, Any], cap: float
) -> list[str]:
    """Every other resource that can set Istio's trace sampling: istiod's chart values and
    environment, profiles, mesh configs, ProxyConfig annotations, EnvoyFilters, ..."""
    return _messages(resource_type, name, legacy_sampling_findings(resource_type, props, cap))


def declared_mesh_config(resource_type: str, props: Mapping[str, Any]) -> Optional[tuple[str, Any]]:
    """(field path prefix, mesh config) where a resource declares Istio's mesh config: istiod's
    chart values, an IstioOperator or the `istio` ConfigMap (YAML in `data.mesh`)."""
    if resource_type in HELM_TYPES and chart_name(props.get("chart")) in ISTIOD_CHARTS:
        return "values.meshConfig.", _get(props, "values", "meshConfig")
    if resource_type == ISTIO_OPERATOR_TYPE:
        return "spec.meshConfig.", _get(props, "spec", "meshConfig")
    if resource_type == CONFIG_MAP_TYPE and isinstance(_get(props, "data", "mesh"), str):
        documents = parse_documents(props["data"]["mesh"])
        if documents:
            return "data.mesh: ", plain(documents[0])
    return None


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
        if not is_telemetry(resource.resource_type, resource.props):
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
