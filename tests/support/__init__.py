"""Helpers the tests share: the project's stack files, and evaluations of the real program under
the mock runtime (cached per stack: the program is deterministic)."""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any

from mesh_tracing.plan.evaluate import StackEvaluation, evaluate, read_stack_file

PROJECT_DIR = Path(__file__).resolve().parents[2]
STACKS_DIR = PROJECT_DIR / "stacks"
POLICY_DIR = PROJECT_DIR / "policy"
STACKS = ("dev", "staging", "prod")
NS = "mesh-tracing:"


def stack_config(stack: str) -> dict[str, Any]:
    """A fresh, mutable copy of a stack file's config."""
    return copy.deepcopy(read_stack_file(STACKS_DIR, stack))


@functools.cache
def evaluated(stack: str) -> StackEvaluation:
    """The stack file's desired state; shared between tests, so never mutate it."""
    return evaluate(stack, stack_config(stack))


def helm_release(evaluation: StackEvaluation, chart: str) -> dict[str, Any]:
    """The inputs of the one Helm release of `chart`."""
    releases = [
        resource.inputs
        for resource in evaluation.of_type("kubernetes:helm.sh/v3:Release")
        if resource.inputs["chart"] == chart
    ]
    assert len(releases) == 1, f"{len(releases)} releases of {chart}"
    return releases[0]


def telemetries(evaluation: StackEvaluation) -> list[dict[str, Any]]:
    return [
        resource.inputs
        for resource in evaluation.resources
        if resource.type.startswith("kubernetes:telemetry.istio.io/")
    ]
