"""The Pulumi program: read and validate the stack's config, build the stack, export."""

from __future__ import annotations

import json
from typing import Any

import pulumi
from pulumi.runtime.config import (
    CONFIG,
    get_config_env,
    get_config_secret_keys_env,
    is_config_secret,
)

from .config import CONFIG_NAMESPACE, ConfigError, StackConfig, parse_stack_config

COMPONENT_NAME = "mesh"


class InvalidStackConfig(pulumi.RunError):
    """The stack's config is invalid. A RunError ends the program with its message and without
    a Python traceback; the subclass lets offline tools tell it from other failures."""


def _parse(value: Any) -> Any:
    """Pulumi hands objects over as JSON text and scalars as plain text."""
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def stack_config_values() -> tuple[dict[str, Any], list[str]]:
    """This project's config keys (without the namespace) and which of them are secret."""
    prefix = f"{CONFIG_NAMESPACE}:"
    everything = {**get_config_env(), **CONFIG.get()}
    raw = {
        key.removeprefix(prefix): _parse(value)
        for key, value in everything.items()
        if key.startswith(prefix)
    }
    secret_keys = [
        key
        for key in everything
        if key.startswith(prefix) and (is_config_secret(key) or key in get_config_secret_keys_env())
    ]
    return raw, secret_keys


def read_stack_config() -> StackConfig:
    """The validated config of the running stack; raises ConfigError before anything exists."""
    raw, secret_keys = stack_config_values()
    return parse_stack_config(pulumi.get_stack(), raw, secret_keys)


def main() -> None:
    try:
        settings = read_stack_config()
    except ConfigError as error:
        raise InvalidStackConfig(str(error)) from None

    from .mesh_observability import MeshObservability

    mesh = MeshObservability.from_config(COMPONENT_NAME, settings)
    pulumi.export("environment", settings.environment)
    pulumi.export("kiali_url", mesh.kiali_url)
    pulumi.export("jaeger_ui_url", mesh.jaeger_ui_url)
    pulumi.export("otlp_endpoint", mesh.otlp_endpoint)
    pulumi.export("jaeger_query_url", mesh.jaeger_query_url)
    pulumi.export("prometheus_url", mesh.prometheus_url)
    # Deprecated: kept for one release beside the two outputs that say what each number governs.
    pulumi.export("sampling_percent_by_namespace", mesh.sampling_percent_by_namespace)
    pulumi.export("trace_start_sampling_percent", mesh.trace_start_sampling_percent)
    pulumi.export("gateway_sampling_percent", mesh.gateway_sampling_percent)
    pulumi.export("istio_installed", settings.istio.install)
    pulumi.export("mesh_config", mesh.mesh_config)
