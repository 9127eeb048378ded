"""The Pulumi SDK's mock runtime, behind one function: the only place that reaches into the
SDK's internals (its mock monitor, its event loop helper, its wire-format secrets).

Pinned SDK upgrades that move these internals break here and nowhere else.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Optional

import pulumi
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime.rpc import is_rpc_secret, unwrap_rpc_secret
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await


@dataclass(frozen=True)
class Registration:
    """One resource registration as the engine would receive it; inputs still in wire form."""

    urn: str
    type: str
    name: str
    parent: Optional[str]
    custom: bool
    inputs: dict[str, Any]
    protect: bool
    retain_on_delete: bool
    ignore_changes: tuple[str, ...]
    dependencies: tuple[str, ...]
    provider: Optional[str]


@dataclass
class MockRun:
    registrations: list[Registration] = field(default_factory=list)
    outputs: dict[str, tuple[Any, bool]] = field(default_factory=dict)
    """Each stack output's value and whether it is secret."""
    error: Optional[BaseException] = None
    warnings: list[str] = field(default_factory=list)
    """What the program logged as warnings, in order, each once."""


class _Warnings(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno == logging.WARNING and record.getMessage() not in self.messages:
            self.messages.append(record.getMessage())


def wire_secret(value: Any) -> tuple[bool, Any]:
    """Whether a wire-format value is a secret, and the value inside."""
    if is_rpc_secret(value):
        return True, unwrap_rpc_secret(value)
    return False, value


class _Engine(pulumi.runtime.Mocks):
    """Answers registrations the way a fresh deployment would: state is the inputs."""

    def __init__(self) -> None:
        # The monitor calls new_resource synchronously on its own thread: a thread-local hands
        # the already-deserialized inputs back to it without decoding them a second time.
        self.last_inputs = threading.local()

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[Optional[str], dict]:
        self.last_inputs.value = args.inputs
        return (f"{args.name}-id" if args.custom else None), dict(args.inputs)

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict, Optional[list]]:
        return {}, None


class _RecordingMonitor(pulumi_mocks.MockMonitor):
    def __init__(self, engine: _Engine):
        super().__init__(engine)
        self.engine = engine
        self.recorded: list[Registration] = []

    def RegisterResource(self, request: Any) -> Any:
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            self.recorded.append(
                Registration(
                    urn=response.urn,
                    type=request.type,
                    name=request.name,
                    parent=request.parent or None,
                    custom=bool(request.custom),
                    inputs=self.engine.last_inputs.value,
                    protect=bool(request.protect),
                    retain_on_delete=bool(request.retainOnDelete),
                    ignore_changes=tuple(request.ignoreChanges),
                    dependencies=tuple(sorted(request.dependencies)),
                    provider=request.provider or None,
                )
            )
        return response


def run_with_mocks(
    program: Callable[[], None],
    *,
    project: str,
    stack: str,
    config: Mapping[str, str],
    secret_keys: Iterable[str],
) -> MockRun:
    """Run `program` as a preview under the mock runtime, recording every registration and,
    when it succeeds, every stack output. What the program raises is returned, not raised."""
    pulumi.runtime.reset_options()
    pulumi.runtime.set_all_config(dict(config), list(secret_keys))
    engine = _Engine()
    monitor = _RecordingMonitor(engine)
    warnings = _Warnings()
    logger = logging.getLogger(f"mesh-tracing.plan.{id(warnings)}")
    logger.propagate = False
    logger.addHandler(warnings)
    pulumi.runtime.set_mocks(
        engine, project=project, stack=stack, preview=True, monitor=monitor, logger=logger
    )
    root = pulumi.runtime.get_root_resource()
    try:
        _sync_await(run_pulumi_func(program))
    except Exception as error:
        return MockRun(
            registrations=list(monitor.recorded), error=error, warnings=warnings.messages
        )
    run = MockRun(registrations=list(monitor.recorded), warnings=warnings.messages)
    for key, value in (root.outputs if root is not None else {}).items():
        output = pulumi.Output.from_input(value)
        run.outputs[key] = (_sync_await(output.future()), _sync_await(output.is_secret()))
    return run
