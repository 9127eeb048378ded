"""Validation of component args with the stack config models, Pulumi outputs included."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

import pulumi

from .config import ConfigError, ConfigProblem, validate_section

SettingsModel = TypeVar("SettingsModel")
_SECRET_FIELDS = frozenset({"password", "client_secret"})
_PENDING_SECRET = "(pulumi output)"


def with_pending_secrets(values: Any) -> Any:
    """Secret fields may be Pulumi outputs, whose value is known only later: they are validated
    as present, and the component passes the original output on to the Secret it creates."""
    if isinstance(values, Mapping):
        return {
            key: _PENDING_SECRET
            if key in _SECRET_FIELDS and isinstance(value, pulumi.Output)
            else with_pending_secrets(value)
            for key, value in values.items()
        }
    if isinstance(values, (list, tuple)):
        return [with_pending_secrets(value) for value in values]
    return values


def validated_settings(
    model: type[SettingsModel],
    args: Mapping[str, Any],
    *,
    component: str,
    wiring: tuple[str, ...] = (),
) -> SettingsModel:
    """The `model` settings in `args`, validated for `args['environment']`.

    `wiring` names the keys that carry other components' outputs rather than settings. A value
    that is a Pulumi output where plain data is required is refused with the key's name.
    """
    owner = f"component {component}"
    settings = {key: value for key, value in args.items() if key not in (*wiring, "environment")}
    unresolved = [
        key
        for key, value in settings.items()
        if isinstance(value, pulumi.Output) and key not in _SECRET_FIELDS
    ]
    if unresolved:
        raise ConfigError(
            owner,
            [
                ConfigProblem(
                    key=key,
                    value="(pulumi output)",
                    reason="must be known before deployment",
                    allowed="a plain value",
                )
                for key in unresolved
            ],
        )
    return validate_section(
        model, args.get("environment"), with_pending_secrets(settings), owner=owner
    )


def secret_input(value: Any) -> pulumi.Output[str]:
    """A credential as a Pulumi secret, whether the caller marked it secret or not."""
    return pulumi.Output.secret(value)
