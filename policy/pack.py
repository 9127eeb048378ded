"""The `pulumi_policy` objects of the mesh-tracing pack, built on the checks in tracing_policies."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

import pulumi
from pulumi.runtime.config import get_config
from pulumi.runtime.settings import is_dry_run
from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError

from tracing_policies import (
    DEFAULT_PRODUCTION_STACK_PATTERNS,
    DEFAULT_SAMPLING_CAP_PERCENT,
    ENVIRONMENT_CONFIG_KEY,
    Finding,
    PolicySettings,
    StackResource,
    describe,
    is_production,
    jaeger_storage_violations,
    kiali_auth_violations,
    legacy_sampling_findings,
    missing_provider_violations,
    telemetry_findings,
)

PACK_NAME = "mesh-tracing"

_PATTERNS_SCHEMA = {
    "type": "array",
    "items": {"type": "string", "minLength": 1},
    "default": list(DEFAULT_PRODUCTION_STACK_PATTERNS),
    "description": "Stack name patterns (fnmatch, any letter case) that count as production, "
    f"besides stacks whose {ENVIRONMENT_CONFIG_KEY} is prod; they add to the default patterns, "
    "which always count.",
}
_CAP_SCHEMA = {
    "type": "number",
    "minimum": 0,
    "maximum": DEFAULT_SAMPLING_CAP_PERCENT,
    "default": DEFAULT_SAMPLING_CAP_PERCENT,
    "description": "Highest trace sampling percentage allowed in production: config may lower "
    f"the cap, never raise it above {DEFAULT_SAMPLING_CAP_PERCENT:g} (a higher value is read as "
    f"{DEFAULT_SAMPLING_CAP_PERCENT:g}).",
}
PRODUCTION_SCHEMA = PolicyConfigSchema(properties={"productionStackPatterns": _PATTERNS_SCHEMA})
SAMPLING_SCHEMA = PolicyConfigSchema(
    properties={"maxSamplingPercent": _CAP_SCHEMA, "productionStackPatterns": _PATTERNS_SCHEMA}
)


def _production(config: Mapping[str, Any]) -> tuple[bool, PolicySettings]:
    settings = PolicySettings.from_config(config)
    # The engine names the stack to a pack only through its language host, which sets
    # PULUMI_STACK (and PULUMI_CONFIG) for it; an old host does not, and the SDK then answers
    # "stack". A pack that cannot tell which stack it judges judges it as production.
    if not os.environ.get("PULUMI_STACK"):
        return True, settings
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


def plain_props(value: Any) -> Any:
    """The inputs without the SDK's unknown-checking proxy: an unknown value stays the engine's
    sentinel, so the sampling checks judge everything known and say exactly what is not."""
    if isinstance(value, Mapping):
        result = {}
        for key in value:
            try:
                result[key] = plain_props(value[key])
            except UnknownValueError as error:
                result[key] = error.unknown_type_sentinel
        return result
    if isinstance(value, (list, tuple)) or type(value).__name__ == "_ListProxy":
        items = []
        for index in range(len(value)):
            try:
                items.append(plain_props(value[index]))
            except UnknownValueError as error:
                items.append(error.unknown_type_sentinel)
        return items
    return value


SamplingCheck = Callable[[str, Mapping[str, Any], float], list[Finding]]


def _sampling_policy(name: str, description: str, check: SamplingCheck) -> ResourceValidationPolicy:
    """Mandatory: every finding, except one that only waits for a value unknown at preview (the
    update judges the real value, and `sampling-unknown-at-preview` says so meanwhile). At update
    a value still unknown is not provable, so it is mandatory too."""

    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        production, settings = _production(args.get_config())
        if not production:
            args.not_applicable("not a production stack")
        preview = is_dry_run()
        props = plain_props(args.props)
        for finding in check(args.resource_type, props, settings.sampling_cap_percent):
            if finding.unknown and preview:
                continue
            suffix = (
                f" at update, so the pack cannot prove it is at most "
                f"{settings.sampling_cap_percent:g} percent; make it a known value."
                if finding.unknown
                else ""
            )
            report_violation(
                f"{describe(args.resource_type, args.name)}: {finding.message}{suffix}", args.urn
            )

    return ResourceValidationPolicy(
        name=name,
        description=description,
        validate=validate,
        enforcement_level=EnforcementLevel.MANDATORY,
        config_schema=SAMPLING_SCHEMA,
    )


def _unknown_at_preview(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    production, settings = _production(args.get_config())
    if not production or not is_dry_run():
        args.not_applicable("only production previews have values the update will judge")
    props = plain_props(args.props)
    cap = settings.sampling_cap_percent
    for check in (telemetry_findings, legacy_sampling_findings):
        for finding in check(args.resource_type, props, cap):
            if finding.unknown:
                report_violation(
                    f"{describe(args.resource_type, args.name)}: {finding.message} during "
                    f"preview; the update judges the real value against the cap of {cap:g} "
                    "percent.",
                    args.urn,
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
    _sampling_policy(
        "telemetry-sampling-cap",
        "Production Telemetry resources (any API version, patches included) set "
        "randomSamplingPercentage on every tracing rule, within the production cap.",
        telemetry_findings,
    ),
    _sampling_policy(
        "istio-legacy-sampling-cap",
        "Every other production resource that can set Istio's trace sampling (istiod chart "
        "values, profiles and environment, mesh configs, ProxyConfig annotations and "
        "environment, provider samplers, EnvoyFilters, patches) is proved within the cap.",
        legacy_sampling_findings,
    ),
    ResourceValidationPolicy(
        name="sampling-unknown-at-preview",
        description="A production sampling setting that is unknown during preview: advisory, "
        "since the update judges the real value.",
        validate=_unknown_at_preview,
        enforcement_level=EnforcementLevel.ADVISORY,
        config_schema=SAMPLING_SCHEMA,
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
