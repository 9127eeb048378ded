"""The sampling a stack configures, read offline from its stack file with the config model.

The same numbers as the stack outputs `gateway_sampling_percent` and
`trace_start_sampling_percent`, computed by the same functions, without evaluating the program.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import yaml

EVERY_OTHER_NAMESPACE = "*"


@dataclass(frozen=True)
class ConfiguredSampling:
    stack: str
    gateways: Mapping[str, float] = field(default_factory=dict)
    """`namespace/label=value,...` to the gateway's percentage."""
    trace_start: Mapping[str, float] = field(default_factory=dict)
    """Namespace (or `*`) to the percentage of traces that start there."""
    trusting_gateways: frozenset[str] = frozenset()
    """Gateways (same keys) that keep outside clients' trace context."""

    def for_gateway(self, namespace: str, name: str) -> tuple[Optional[float], str]:
        """The gateway's percentage and where it comes from. A gateway the stack does not
        declare decides at the namespace's, or the mesh-wide, percentage."""
        here = [key for key in self.gateways if key.split("/", 1)[0] == namespace]
        if len(here) > 1:
            # Several gateways in one namespace: the one whose selector values its name carries.
            here = [
                key
                for key in here
                if all(pair.split("=", 1)[-1] in name for pair in key.split("/", 1)[1].split(","))
            ]
        if len(here) == 1:
            return self.gateways[here[0]], f"gateway {here[0]}"
        if here:
            return None, f"{len(here)} gateways declared in {namespace}"
        return self.for_trace_start(namespace)

    def for_trace_start(self, namespace: str) -> tuple[Optional[float], str]:
        if namespace in self.trace_start:
            return self.trace_start[namespace], f"namespace {namespace}"
        if EVERY_OTHER_NAMESPACE in self.trace_start:
            return self.trace_start[EVERY_OTHER_NAMESPACE], "mesh-wide"
        return None, "not set by this stack"


class StackNotFound(LookupError):
    """No such stack, or no Pulumi project where one was looked for."""


def load_configured_sampling(project_dir: Path, stack: str) -> ConfiguredSampling:
    """The stack's sampling, from `stacks/Pulumi.<stack>.yaml` of the project in `project_dir`.

    Raises StackNotFound for a missing project or stack, and the config model's ConfigError (or
    StackFileError) for a stack whose config is invalid."""
    from ..config import CONFIG_NAMESPACE, parse_stack_config
    from ..plan.evaluate import UnknownStack, offline_stack_config
    from ..specs.telemetry import (
        gateway_label,
        gateway_sampling_percent,
        trace_start_sampling_percent,
    )

    manifest = project_dir / "Pulumi.yaml"
    if not manifest.is_file():
        raise StackNotFound(f"--stack {stack}: no Pulumi.yaml in {project_dir.resolve()}")
    document = yaml.safe_load(manifest.read_text()) or {}
    stacks_dir = project_dir / document.get("stackConfigDir", ".")
    try:
        config, secret_keys = offline_stack_config(stacks_dir, stack)
    except UnknownStack as error:
        raise StackNotFound(f"--stack {stack}: {error}") from None
    prefix = f"{CONFIG_NAMESPACE}:"
    raw = {key.removeprefix(prefix): value for key, value in config.items()}
    settings = parse_stack_config(stack, raw, secret_keys)
    return ConfiguredSampling(
        stack=stack,
        gateways=gateway_sampling_percent(settings.tracing),
        trace_start=trace_start_sampling_percent(settings.tracing, settings.istio),
        trusting_gateways=frozenset(
            gateway_label(gateway)
            for gateway in settings.tracing.gateways
            if _trusts(gateway.trust_client_trace_context, settings.environment)
        ),
    )


def _trusts(setting: Optional[bool], environment: str) -> bool:
    # The README's rule: unset means false in prod, true elsewhere.
    return setting if setting is not None else environment != "prod"
