"""Fixtures only; shared helpers live in `support`."""

from __future__ import annotations

import pytest

from mesh_tracing.plan.evaluate import StackEvaluation
from support import STACKS, evaluated


@pytest.fixture(params=STACKS)
def stack_name(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def evaluation(stack_name: str) -> StackEvaluation:
    return evaluated(stack_name)
