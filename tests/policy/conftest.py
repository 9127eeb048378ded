"""Packs for the policy tests, started as the engine starts them: PULUMI_DRY_RUN says whether the
pack judges a preview (some values may be unknown) or an update (every input is known)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from typing import Any, Optional
from unittest import mock

import pytest

from support import NS
from support.analyzer import Analyzer, running_pack


@contextmanager
def running_update_pack(
    stack: str, config: Optional[Mapping[str, Any]] = None
) -> Iterator[Analyzer]:
    """`running_pack` as the engine starts it for `pulumi up`'s update, not its preview."""
    popen = subprocess.Popen

    def update_popen(args: Any, **kwargs: Any) -> subprocess.Popen:
        kwargs["env"] = {**kwargs["env"], "PULUMI_DRY_RUN": "false"}
        return popen(args, **kwargs)

    with ExitStack() as stack_of_contexts:
        with mock.patch.object(subprocess, "Popen", update_popen):
            analyzer = stack_of_contexts.enter_context(running_pack(stack, config))
        yield analyzer


@pytest.fixture(scope="session")
def preview_pack() -> Iterator[Analyzer]:
    """The pack at a production stack's preview."""
    with running_pack("prod", {f"{NS}environment": "prod"}) as analyzer:
        yield analyzer


@pytest.fixture(scope="session")
def update_pack() -> Iterator[Analyzer]:
    """The pack at a production stack's update."""
    with running_update_pack("prod", {f"{NS}environment": "prod"}) as analyzer:
        yield analyzer
