"""The end-to-end suite runs only where the toolchain is built and the charts are prepared;
elsewhere its tests are deselected and one loud SKIPPED line says why. It never builds."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from support import PROJECT_DIR
from support.e2e import Cli, Prerequisites, prerequisites

E2E_DIR = Path(__file__).parent
_SKIPPED: list[str] = []


@pytest.fixture(scope="session")
def e2e() -> Prerequisites:
    found = prerequisites()
    assert found.reason is None, found.reason
    return found


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Only the tests that stand on the whole toolchain and the charts; others here (the local
    # control plane's own) check and skip for themselves.
    ours = [
        item
        for item in items
        if E2E_DIR in Path(str(item.fspath)).parents and "e2e" in getattr(item, "fixturenames", ())
    ]
    if not ours:
        return
    reason = prerequisites().reason
    if reason is None:
        return
    config.hook.pytest_deselected(items=ours)
    items[:] = [item for item in items if item not in ours]
    _SKIPPED.append(f"SKIPPED: end-to-end suite ({len(ours)} tests): {reason}")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for line in _SKIPPED:
        terminalreporter.write_line(line, yellow=True, bold=True)


@pytest.fixture(scope="session")
def kubeconfig(e2e: Prerequisites, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A cluster the user named (MESH_TRACING_E2E_KUBECONFIG), or a local control plane of
    the suite's own, removed afterwards."""
    given = os.environ.get("MESH_TRACING_E2E_KUBECONFIG")
    if given:
        yield Path(given)
        return
    cluster_dir = tmp_path_factory.mktemp("cluster")
    env = {
        **os.environ,
        "MESH_TRACING_CLUSTER_DIR": str(cluster_dir),
        "MESH_TRACING_TOOLCHAIN_BIN": str(e2e.toolchain_bin),
    }
    script = str(PROJECT_DIR / "scripts" / "cluster")
    name = ["--name", "mesh-tracing-e2e"]
    up = subprocess.run([script, "up", *name], env=env, capture_output=True, text=True, timeout=900)
    assert up.returncode == 0, f"scripts/cluster up failed:\n{up.stdout}\n{up.stderr}"
    try:
        yield Path(up.stdout.strip().splitlines()[-1])
    finally:
        subprocess.run([script, "down", *name], env=env, capture_output=True, timeout=300)


@pytest.fixture(scope="session")
def cli(e2e: Prerequisites, kubeconfig: Path, tmp_path_factory: pytest.TempPathFactory) -> Cli:
    assert e2e.toolchain_bin is not None
    return Cli(e2e.toolchain_bin, kubeconfig, tmp_path_factory.mktemp("pulumi-state"))
