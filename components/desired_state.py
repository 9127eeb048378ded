"""A stack's desired state, evaluated offline with the Pulumi SDK's mock runtime.

The real program runs with the stack's real config; only the engine is replaced, by a monitor that
records every registration (type, name, parent, inputs, options) instead of sending it anywhere.
No CLI, cluster or credentials are needed, which is what makes this usable in tests and on
machines where `pulumi preview` cannot run.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import pulumi
import yaml
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from .config import CONFIG_NAMESPACE

PROJECT_NAME = "mesh-tracing"
SECRET_MASK = "[secret]"
ENCRYPTED_PLACEHOLDER = "encrypted-in-stack-file"


@dataclass(frozen=True)
class PlannedResource:
    """One registration the program made."""

    urn: str
    type: str
    name: str
    parent: Optional[str]
    custom: bool
    inputs: dict[str, Any]
    protect: bool = False
    retain_on_delete: bool = False
    dependencies: tuple[str, ...] = ()
    provider: Optional[str] = None


@dataclass
class StackEvaluation:
    stack: str
    resources: list[PlannedResource] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    error: Optional[BaseException] = None
    """What the program raised, when it was evaluated with `raise_errors=False`."""

    def of_type(self, type_token: str) -> list[PlannedResource]:
        return [resource for resource in self.resources if resource.type == type_token]

    def named(self, name: str) -> PlannedResource:
        matches = [resource for resource in self.resources if resource.name == name]
        if len(matches) != 1:
            raise KeyError(f"{len(matches)} resources named {name!r}")
        return matches[0]


class _Engine(pulumi.runtime.Mocks):
    """Answers registrations the way a fresh deployment would: state is the inputs, plus the
    few outputs a provider computes that the program reads."""

    def __init__(self) -> None:
        # The monitor calls new_resource synchronously on its own thread: a thread-local hands
        # the already-deserialized inputs back to it without decoding them a second time.
        self.last_inputs = threading.local()

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[Optional[str], dict]:
        self.last_inputs.value = args.inputs
        state = dict(args.inputs)
        if args.typ == "random:index/randomPassword:RandomPassword":
            # A placeholder of the requested length; the real value exists only in real state.
            state["result"] = pulumi.Output.secret("x" * int(args.inputs.get("length", 16)))
        return (f"{args.name}-id" if args.custom else None), state

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict, Optional[list]]:
        return {}, None


class _RecordingMonitor(pulumi_mocks.MockMonitor):
    def __init__(self, engine: _Engine):
        super().__init__(engine)
        self.engine = engine
        self.recorded: list[PlannedResource] = []

    def RegisterResource(self, request: Any) -> Any:
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            inputs = self.engine.last_inputs.value
            self.recorded.append(
                PlannedResource(
                    urn=response.urn,
                    type=request.type,
                    name=request.name,
                    parent=request.parent or None,
                    custom=bool(request.custom),
                    inputs=_masked(inputs),
                    protect=bool(request.protect),
                    retain_on_delete=bool(request.retainOnDelete),
                    dependencies=tuple(sorted(request.dependencies)),
                    provider=request.provider or None,
                )
            )
        return response


def _masked(value: Any, secret: bool = False) -> Any:
    """Inputs as plain data: every value inside a secret replaced by a mask (its keys stay, so a
    reviewer sees which entries a Secret has), integral floats back to ints."""
    if pulumi.runtime.rpc.is_rpc_secret(value):
        return _masked(pulumi.runtime.rpc.unwrap_rpc_secret(value), secret=True)
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


def read_stack_file(stacks_dir: Path, stack: str) -> dict[str, Any]:
    """The `config:` of `Pulumi.<stack>.yaml`, as Pulumi would hand it to the program."""
    path = stacks_dir / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        raise FileNotFoundError(f"no stack file for stack '{stack}': {path}")
    document = yaml.safe_load(path.read_text()) or {}
    return dict(document.get("config") or {})


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
        from .program import main as program

    pulumi.runtime.reset_options()
    pulumi.runtime.set_all_config(
        {key: _config_value(value) for key, value in config.items()}, list(secret_keys)
    )
    engine = _Engine()
    monitor = _RecordingMonitor(engine)
    pulumi.runtime.set_mocks(engine, project=project, stack=stack, preview=True, monitor=monitor)
    root = pulumi.runtime.get_root_resource()
    try:
        _sync_await(run_pulumi_func(program))
    except Exception as error:
        if raise_errors:
            raise
        return StackEvaluation(stack=stack, resources=list(monitor.recorded), error=error)
    outputs = {}
    for key, value in (root.outputs if root is not None else {}).items():
        output = pulumi.Output.from_input(value)
        resolved = _sync_await(output.future())
        outputs[key] = _masked(resolved, secret=_sync_await(output.is_secret()))
    return StackEvaluation(stack=stack, resources=list(monitor.recorded), outputs=outputs)


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
