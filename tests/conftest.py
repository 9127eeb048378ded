"""Shared helpers: the project's stack files and evaluations of the real program under mocks."""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any

import pytest

from mesh_tracing.desired_state import StackEvaluation, evaluate, read_stack_file

PROJECT_DIR = Path(__file__).resolve().parent.parent
STACKS_DIR = PROJECT_DIR / "stacks"
STACKS = ("dev", "staging", "prod")
NS = "mesh-tracing:"


def stack_config(stack: str) -> dict[str, Any]:
    """A fresh, mutable copy of a stack file's config."""
    return copy.deepcopy(read_stack_file(STACKS_DIR, stack))


@functools.cache
def _evaluated(stack: str) -> StackEvaluation:
    return evaluate(stack, stack_config(stack))


@pytest.fixture(params=STACKS)
def stack_name(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def evaluation(stack_name: str) -> StackEvaluation:
    return _evaluated(stack_name)


def evaluated(stack: str) -> StackEvaluation:
    return _evaluated(stack)


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


POLICY_DIR = PROJECT_DIR / "policy"
if str(POLICY_DIR) not in __import__("sys").path:
    __import__("sys").path.insert(0, str(POLICY_DIR))
