"""A stack's desired state, evaluated offline with the Pulumi SDK's mock runtime.

The real program runs with the stack's real config; only the engine is replaced, by a monitor that
records every registration (type, name, parent, inputs, options) instead of sending it anywhere.
No CLI, cluster or credentials are needed, which is what makes this usable in tests and on
machines where `pulumi preview` cannot run.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Optional

import yaml

from ..config import CONFIG_NAMESPACE
from .sdk import Registration, run_with_mocks, wire_secret

PROJECT_NAME = "mesh-tracing"
SECRET_MASK = "[secret]"
ENCRYPTED_PLACEHOLDER = "encrypted-in-stack-file"


PlannedResource = Registration
"""One registration the program made; in an evaluation, its inputs are plain data, secrets
masked."""


@dataclass
class StackEvaluation:
    stack: str
    resources: list[PlannedResource] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    error: Optional[BaseException] = None
    """What the program raised, when it was evaluated with `raise_errors=False`."""
    warnings: list[str] = field(default_factory=list)
    """What the program warned about, as `pulumi preview` would show it, each once."""

    def of_type(self, type_token: str) -> list[PlannedResource]:
        return [resource for resource in self.resources if resource.type == type_token]

    def named(self, name: str) -> PlannedResource:
        matches = [resource for resource in self.resources if resource.name == name]
        if len(matches) != 1:
            raise KeyError(f"{len(matches)} resources named {name!r}")
        return matches[0]


def _masked(value: Any, secret: bool = False) -> Any:
    """Inputs as plain data: every value inside a secret replaced by a mask (its keys stay, so a
    reviewer sees which entries a Secret has), integral floats back to ints."""
    is_secret, inner = wire_secret(value)
    if is_secret:
        return _masked(inner, secret=True)
    if isinstance(value, Mapping):
        return {key: _masked(item, secret) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_masked(item, secret) for item in value]
    if secret:
        return SECRET_MASK
    if isinstance(value, float) and value.is_integer():
        # The wire format has only doubles; replica counts and ports were ints in the program.
        return int(value)
    return value


def _config_value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


class UnknownStack(LookupError):
    """No stack file for the stack; the message lists the stacks there are."""


class StackFileError(ValueError):
    """A stack file that is not valid YAML, or whose `config:` is not a map: a configuration
    mistake like any other, reported with the file, line and column."""


def yaml_place(error: yaml.YAMLError) -> str:
    """` line L, column C` of a YAML error, 1-based as editors count, or nothing if unknown."""
    mark = getattr(error, "problem_mark", None)
    return f" line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""


def stack_names(stacks_dir: Path) -> list[str]:
    return sorted(
        path.name.removeprefix("Pulumi.").removesuffix(".yaml")
        for path in stacks_dir.glob("Pulumi.*.yaml")
    )


def read_stack_file(stacks_dir: Path, stack: str) -> dict[str, Any]:
    """The `config:` of `Pulumi.<stack>.yaml`, as Pulumi would hand it to the program."""
    path = stacks_dir / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        known = ", ".join(stack_names(stacks_dir)) or "none"
        raise UnknownStack(f"no stack '{stack}': {path} does not exist (stacks: {known})")
    try:
        document = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise StackFileError(
            f"stack '{stack}': {path}{yaml_place(error)}: not valid YAML ({problem})"
        ) from None
    config = document.get("config") if isinstance(document, dict) else None
    if config is not None and not isinstance(config, dict):
        raise StackFileError(f"stack '{stack}': {path}: `config:` must be a map of keys to values")
    return dict(config or {})


def evaluate(
    stack: str,
    config: Mapping[str, Any],
    secret_keys: Iterable[str] = (),
    program: Optional[Callable[[], None]] = None,
    *,
    raise_errors: bool = True,
    project: str = PROJECT_NAME,
) -> StackEvaluation:
    """Run `program` (the mesh-tracing program by default) for `stack` with `config`.

    `config` maps full keys (`mesh-tracing:tracing`) to values as in a stack file; values that
    a stack file would hold encrypted are given in clear and named in `secret_keys`. Exceptions
    from the program, configuration errors among them, propagate unchanged; with
    `raise_errors=False` they are returned in `error`, beside whatever was registered before.
    """
    encrypted = [key for key, value in config.items() if _without_encrypted(value)[1]]
    if encrypted:
        raise ValueError(
            f"stack '{stack}': {', '.join(encrypted)} hold encrypted values, which only the "
            "Pulumi CLI can decrypt; pass them in clear with their keys in secret_keys"
        )
    if program is None:
        from ..program import main as program

    run = run_with_mocks(
        program,
        project=project,
        stack=stack,
        config={key: _config_value(value) for key, value in config.items()},
        secret_keys=secret_keys,
    )
    resources = [
        replace(registration, inputs=_masked(registration.inputs))
        for registration in run.registrations
    ]
    if run.error is not None:
        if raise_errors:
            raise run.error
        return StackEvaluation(
            stack=stack, resources=resources, error=run.error, warnings=run.warnings
        )
    outputs = {key: _masked(value, secret=secret) for key, (value, secret) in run.outputs.items()}
    return StackEvaluation(stack=stack, resources=resources, outputs=outputs, warnings=run.warnings)


def _without_encrypted(value: Any) -> tuple[Any, bool]:
    """The value with every `{secure: ...}` leaf replaced by a placeholder, and whether any was."""
    if isinstance(value, Mapping):
        if set(value) == {"secure"}:
            return ENCRYPTED_PLACEHOLDER, True
        items = {key: _without_encrypted(item) for key, item in value.items()}
        return {key: item for key, (item, _) in items.items()}, any(f for _, f in items.values())
    if isinstance(value, list):
        items = [_without_encrypted(item) for item in value]
        return [item for item, _ in items], any(f for _, f in items)
    return value, False


def offline_stack_config(stacks_dir: Path, stack: str) -> tuple[dict[str, Any], list[str]]:
    """A stack file's config ready for an offline evaluation, and its secret keys.

    Encrypted values can only be decrypted by the Pulumi CLI with the stack's secrets provider;
    offline they become a placeholder, still marked secret, which is enough to evaluate the
    program (credentials only ever end up in Secrets, whose values a plan masks anyway).
    """
    config, secret_keys = {}, []
    for key, value in read_stack_file(stacks_dir, stack).items():
        config[key], encrypted = _without_encrypted(value)
        if encrypted:
            secret_keys.append(key)
    return config, secret_keys


def evaluate_stack_file(
    stacks_dir: Path,
    stack: str,
    program: Optional[Callable[[], None]] = None,
    *,
    project: str = PROJECT_NAME,
    raise_errors: bool = True,
) -> StackEvaluation:
    """Evaluate a stack from its stack file, encrypted values replaced by placeholders."""
    config, secret_keys = offline_stack_config(stacks_dir, stack)
    return evaluate(stack, config, secret_keys, program, project=project, raise_errors=raise_errors)


__all__ = [
    "CONFIG_NAMESPACE",
    "PlannedResource",
    "StackEvaluation",
    "evaluate",
    "evaluate_stack_file",
    "offline_stack_config",
    "read_stack_file",
]
