"""What the end-to-end suite needs: the built toolchain, a prepared chart directory, a cluster,
and the real Pulumi CLI driven the way a user drives it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from . import PROJECT_DIR

CHARTS_ENV = "MESH_TRACING_CHARTS"
DEFAULT_CHARTS_DIR = Path.home() / ".cache" / "mesh-tracing" / "charts"
NEEDED_CHARTS = ("jaeger", "kiali-server", "prometheus", "base", "istiod")
# What `pulumi up` of our stacks on a local control plane runs.
NEEDED_PROGRAMS = "pulumi,python-host,kubernetes-provider,etcd,kwok,kube"
CLI_TIMEOUT_SECONDS = 900


@dataclass(frozen=True)
class Prerequisites:
    toolchain_bin: Optional[Path]
    charts_dir: Optional[Path]
    missing: tuple[str, ...] = ()

    @property
    def reason(self) -> Optional[str]:
        return "; ".join(self.missing) if self.missing else None


def toolchain_bin() -> tuple[Optional[Path], str]:
    """The toolchain's bin directory when everything is built (`scripts/toolchain --check`,
    which never builds), else None and what it says is missing."""
    result = subprocess.run(
        [str(PROJECT_DIR / "scripts" / "toolchain"), "--check", "--only", NEEDED_PROGRAMS],
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    bin_dir = Path(lines[-1]) if lines else None
    if result.returncode == 0 and bin_dir is not None and bin_dir.is_dir():
        stand_in = bin_dir / "pulumi-language-python.stand-in"
        if stand_in.exists():
            return None, (
                "the toolchain's pulumi-language-python is the stand-in the Go module proxy "
                f"allows ({stand_in.read_text().strip()}); set MESH_TRACING_PYTHON_LANGUAGE_HOST "
                "to a current host and run scripts/toolchain again"
            )
        return bin_dir, ""
    missing = [
        line.removeprefix("missing:").strip()
        for line in (result.stdout + result.stderr).splitlines()
        if line.startswith("missing:")
    ]
    said = "; ".join(missing) or " ".join(result.stderr.split())[-200:]
    return None, f"the toolchain is not complete (missing {said}; scripts/toolchain builds it)"


def charts_dir() -> tuple[Optional[Path], str]:
    given = os.environ.get(CHARTS_ENV)
    directory = Path(given) if given else DEFAULT_CHARTS_DIR
    absent = [name for name in NEEDED_CHARTS if not (directory / name / "Chart.yaml").is_file()]
    if absent:
        return None, (
            f"no prepared chart directory at {directory} (missing {', '.join(absent)}; set "
            f"{CHARTS_ENV} to a directory holding each pinned chart as <name>/)"
        )
    return directory, ""


def prerequisites() -> Prerequisites:
    bin_dir, why_not_bin = toolchain_bin()
    charts, why_not_charts = charts_dir()
    return Prerequisites(
        bin_dir, charts, tuple(reason for reason in (why_not_bin, why_not_charts) if reason)
    )


@dataclass
class Cli:
    """The real `pulumi` and `kubectl`, with a file state backend and a kubeconfig of the
    suite's own: nothing of the user's (~/.kube/config, Pulumi Cloud) is touched."""

    bin_dir: Path
    kubeconfig: Path
    state_dir: Path
    env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        venv_bin = Path(sys.executable).parent
        self.env = {
            **os.environ,
            "PATH": os.pathsep.join([str(venv_bin), str(self.bin_dir), os.environ["PATH"]]),
            # The language host runs the program with the first python on PATH: this venv's.
            "VIRTUAL_ENV": str(venv_bin.parent),
            "KUBECONFIG": str(self.kubeconfig),
            "PULUMI_BACKEND_URL": f"file://{self.state_dir}",
            "PULUMI_CONFIG_PASSPHRASE": "e2e-passphrase",
            "PULUMI_SKIP_UPDATE_CHECK": "true",
            "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
            "PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK": "true",
        }
        self.env.pop("PULUMI_ACCESS_TOKEN", None)

    def run(
        self, *args: str, cwd: Path, check: bool = True, timeout: int = CLI_TIMEOUT_SECONDS
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            list(args), cwd=cwd, env=self.env, capture_output=True, text=True, timeout=timeout
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"{' '.join(args)} exited {result.returncode}\n--- stdout\n{result.stdout[-6000:]}"
                f"\n--- stderr\n{result.stderr[-4000:]}"
            )
        return result

    def pulumi(self, *args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.run("pulumi", "--non-interactive", *args, cwd=cwd, check=check)

    def kubectl_json(self, *args: str) -> Any:
        return json.loads(self.run("kubectl", *args, "-o", "json", cwd=Path.cwd()).stdout)

    def kubectl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.run("kubectl", *args, cwd=Path.cwd(), check=check)


def project_copy(destination: Path) -> Path:
    """The project as a user checks it out: program, stack files and policy pack, in a place
    where `pulumi config set` may change stack files."""
    destination.mkdir(parents=True)
    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(PROJECT_DIR / name, destination / name)
    shutil.copytree(PROJECT_DIR / "stacks", destination / "stacks")
    shutil.copytree(
        PROJECT_DIR / "policy",
        destination / "policy",
        ignore=shutil.ignore_patterns("venv", "__pycache__", "*.egg-info"),
    )
    return destination
