"""Validation of component args with the stack config models, Pulumi outputs included."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Optional, TypeVar

import pulumi

from .config import SECRET_PATHS, ConfigError, ConfigProblem, section_name, validate_section

SettingsModel = TypeVar("SettingsModel")
_SECRET_FIELDS = frozenset(path[-1] for path in SECRET_PATHS)
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


def reject_unknown_args(args: Mapping[str, Any], args_type: type, *, component: str) -> None:
    """A TypedDict does not check its keys at run time: a misspelt or misplaced key would be
    silently ignored, so it is refused here, by name."""
    known = args_type.__required_keys__ | args_type.__optional_keys__  # type: ignore[attr-defined]
    unknown = sorted(set(args) - known)
    if unknown:
        raise ConfigError(
            component,
            [
                ConfigProblem(
                    key=key,
                    value=repr(args[key])[:80],
                    reason="unknown argument",
                    allowed="one of: " + ", ".join(sorted(known)),
                )
                for key in unknown
            ],
            kind="component",
        )


def _outputs_in(values: Any, path: str) -> Iterator[str]:
    """Paths of Pulumi outputs where plain data is required (anywhere but a secret field)."""
    if isinstance(values, pulumi.Output):
        yield path
    elif isinstance(values, Mapping):
        for key, value in values.items():
            if key not in _SECRET_FIELDS:
                yield from _outputs_in(value, f"{path}.{key}")


def validated_settings(
    model: type[SettingsModel],
    environment: Any,
    values: Optional[Mapping[str, Any]],
    *,
    component: str,
) -> SettingsModel:
    """One section of a component's args (`jaeger`, `kiali`, ...) validated for `environment`,
    with that environment's defaults, and errors keyed like the stack config's.

    Settings decide which resources exist, so they must be known before deployment: a Pulumi
    output among them is refused by key. Only credentials may be outputs.
    """
    section = section_name(model)
    given = dict(values or {})
    unresolved = list(_outputs_in(given, section))
    if unresolved:
        raise ConfigError(
            component,
            [
                ConfigProblem(
                    key=key,
                    value="(pulumi output)",
                    reason="must be known before deployment",
                    allowed="a plain value",
                )
                for key in unresolved
            ],
            kind="component",
        )
    return validate_section(model, environment, with_pending_secrets(given), owner=component)


def secret_input(value: Any) -> pulumi.Output[str]:
    """A credential as a Pulumi secret, whether the caller marked it secret or not."""
    return pulumi.Output.secret(value)
