"""The `pulumi_policy` objects of the mesh-tracing pack, built on the checks in tracing_policies."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pulumi
from pulumi.runtime.config import get_config
from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from tracing_policies import (
    DEFAULT_PRODUCTION_STACK_PATTERNS,
    DEFAULT_SAMPLING_CAP_PERCENT,
    ENVIRONMENT_CONFIG_KEY,
    PolicySettings,
    StackResource,
    is_production,
    jaeger_storage_violations,
    kiali_auth_violations,
    legacy_sampling_violations,
    missing_provider_violations,
    telemetry_violations,
)

PACK_NAME = "mesh-tracing"

_PATTERNS_SCHEMA = {
    "type": "array",
    "items": {"type": "string", "minLength": 1},
    "default": list(DEFAULT_PRODUCTION_STACK_PATTERNS),
    "description": "Stack name patterns (fnmatch) that count as production, besides stacks whose "
    f"{ENVIRONMENT_CONFIG_KEY} is prod.",
}
_CAP_SCHEMA = {
    "type": "number",
    "minimum": 0,
    "maximum": 100,
    "default": DEFAULT_SAMPLING_CAP_PERCENT,
    "description": "Highest trace sampling percentage allowed in production.",
}
PRODUCTION_SCHEMA = PolicyConfigSchema(properties={"productionStackPatterns": _PATTERNS_SCHEMA})
SAMPLING_SCHEMA = PolicyConfigSchema(
    properties={"maxSamplingPercent": _CAP_SCHEMA, "productionStackPatterns": _PATTERNS_SCHEMA}
)


def _production(config: Mapping[str, Any]) -> tuple[bool, PolicySettings]:
    settings = PolicySettings.from_config(config)
    return is_production(pulumi.get_stack(), get_config(ENVIRONMENT_CONFIG_KEY), settings), settings


def _resource_policy(
    name: str,
    description: str,
    check: Callable[[str, str, Mapping[str, Any], PolicySettings], list[str]],
    schema: PolicyConfigSchema,
) -> ResourceValidationPolicy:
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        production, settings = _production(args.get_config())
        if not production:
            args.not_applicable("not a production stack")
        for message in check(args.resource_type, args.name, args.props, settings):
            report_violation(message, args.urn)

    return ResourceValidationPolicy(
        name=name,
        description=description,
        validate=validate,
        enforcement_level=EnforcementLevel.MANDATORY,
        config_schema=schema,
    )


def _missing_provider(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    production, _ = _production(args.get_config())
    if not production:
        args.not_applicable("not a production stack")
    resources = [
        StackResource(resource.resource_type, resource.name, resource.urn, resource.props)
        for resource in args.resources
    ]
    for message, urn in missing_provider_violations(resources):
        report_violation(message, urn)


POLICIES = [
    _resource_policy(
        "telemetry-sampling-cap",
        "Production Telemetry resources set randomSamplingPercentage on every tracing rule, "
        "within the production cap.",
        lambda t, n, p, s: telemetry_violations(t, n, p, s.sampling_cap_percent),
        SAMPLING_SCHEMA,
    ),
    _resource_policy(
        "istio-legacy-sampling-cap",
        "Production istiod trace sampling and mesh config defaultConfig.tracing.sampling stay "
        "within the production cap.",
        lambda t, n, p, s: legacy_sampling_violations(t, n, p, s.sampling_cap_percent),
        SAMPLING_SCHEMA,
    ),
    _resource_policy(
        "kiali-no-anonymous-auth",
        "Production Kiali requires a login.",
        lambda t, n, p, s: kiali_auth_violations(t, n, p),
        PRODUCTION_SCHEMA,
    ),
    _resource_policy(
        "jaeger-durable-storage",
        "Production Jaeger stores spans in Elasticsearch, OpenSearch or Cassandra, not memory or "
        "badger.",
        lambda t, n, p, s: jaeger_storage_violations(t, n, p),
        PRODUCTION_SCHEMA,
    ),
    StackValidationPolicy(
        name="telemetry-provider-defined",
        description="Every tracing provider a production Telemetry names is defined in a mesh "
        "config in the same stack.",
        validate=_missing_provider,
        enforcement_level=EnforcementLevel.MANDATORY,
        config_schema=PRODUCTION_SCHEMA,
    ),
]
