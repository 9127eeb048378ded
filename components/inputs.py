"""The Pulumi side of a component's edge: args holding Pulumi outputs validated like any other
config, and the validated values handed back to Pulumi resources."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Generic, Optional, TypeVar

import pulumi
from pydantic import BaseModel, SecretStr

from .config import Deferred, parse_component_args

Model = TypeVar("Model", bound=BaseModel)
Component = TypeVar("Component", bound="BuiltFromConfig[Any]")


def _deferred(value: Any) -> Any:
    if isinstance(value, pulumi.Output):
        return Deferred(value)
    if isinstance(value, Mapping):
        return {key: _deferred(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_deferred(item) for item in value]
    return value


def parse_args(component: str, model: type[Model], args: Any) -> Model:
    """A component's args, validated once into `model` (ConfigError names the component)."""
    return parse_component_args(component, model, _deferred(args), stack=pulumi.get_stack())


def wired(value: Any) -> pulumi.Input[Any]:
    """A validated wiring value (a Jaeger URL, an OTLP host) as a Pulumi input."""
    return value.value if isinstance(value, Deferred) else value


def secret_output(credential: Any) -> pulumi.Output[str]:
    """A validated credential as a Pulumi secret, whether the caller marked it secret or not."""
    if isinstance(credential, SecretStr):
        return pulumi.Output.secret(credential.get_secret_value())
    return pulumi.Output.secret(wired(credential))


class BuiltFromConfig(Generic[Model]):
    """A component's second way in: built from configuration a parent component has already
    validated, so nothing is checked twice. The component's `__init__` parses its args (the
    edge other languages use) and both ways end in its `_create`."""

    def _create(
        self, name: str, config: Model, opts: Optional[pulumi.ResourceOptions]
    ) -> None:  # pragma: no cover - each component defines it
        raise NotImplementedError

    @classmethod
    def from_config(
        cls: type[Component],
        name: str,
        config: Model,
        opts: Optional[pulumi.ResourceOptions] = None,
    ) -> Component:
        component = cls.__new__(cls)
        component._create(name, config, opts)
        return component
