"""What the end-to-end suite needs: the built toolchain, a prepared chart directory, a cluster,
and the real Pulumi CLI driven the way a user drives it."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from . import PROJECT_DIR
from .toolchain import built

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
    """The toolchain's bin directory when everything the suite runs is built, else None and
    what is missing."""
    bin_dir, missing = built(NEEDED_PROGRAMS)
    if bin_dir is None:
        return (
            None,
            f"the toolchain is not complete (missing {missing}; scripts/toolchain builds it)",
        )
    stand_in = bin_dir / "pulumi-language-python.stand-in"
    if stand_in.exists():
        return None, (
            "the toolchain's pulumi-language-python is the stand-in the Go module proxy "
            f"allows ({stand_in.read_text().strip()}); set MESH_TRACING_PYTHON_LANGUAGE_HOST "
            "to a current host and run scripts/toolchain again"
        )
    return bin_dir, ""


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

    def apply(self, manifests: list[dict[str, Any]], where: Path, *args: str) -> None:
        """`kubectl apply` of these objects, written to the file `where` first."""
        import yaml

        where.write_text(yaml.safe_dump_all(manifests))
        self.kubectl("apply", *args, "-f", str(where))


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


# ---------------------------------------------------------------------------------------------
# Faults (tests/e2e/test_faults.py): a control plane of a test's own, runs to interrupt, the
# engine's state and locks as the file backend keeps them.
# ---------------------------------------------------------------------------------------------
PROJECT_NAME = "mesh-tracing"
# Namespaces other teams own: the stacks put Telemetry there but never create them. Outside dev,
# Istio itself (its root namespace, its ingress gateway's) is someone else's too.
OTHER_TEAMS_NAMESPACES = {
    "dev": (),
    "staging": ("istio-system", "checkout"),
    "prod": ("istio-system", "istio-ingress", "payments", "batch-jobs"),
}


def wait_until(condition: Any, timeout: float, what: str, interval: float = 0.2) -> Any:
    """Polls `condition` until it returns something truthy, which is returned; fails naming
    `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


@dataclass
class LocalCluster:
    """A control plane of scripts/cluster, in a directory of its own."""

    name: str
    directory: Path
    bin_dir: Path

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "MESH_TRACING_CLUSTER_DIR": str(self.directory),
            "MESH_TRACING_TOOLCHAIN_BIN": str(self.bin_dir),
        }

    @property
    def kubeconfig(self) -> Path:
        return self.directory / "kubeconfig"

    def _script(self, command: str, timeout: int) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(PROJECT_DIR / "scripts" / "cluster"), "--name", self.name, command],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def up(self) -> Path:
        result = self._script("up", 900)
        assert result.returncode == 0, (
            f"scripts/cluster up failed:\n{result.stdout}\n{result.stderr}"
        )
        return Path(result.stdout.strip().splitlines()[-1])

    def down(self) -> None:
        self._script("down", 300)

    def _pid_file(self, component: str) -> Path:
        return self.directory / "kwok" / "clusters" / self.name / "pids" / f"{component}.pid"

    def stop_component(self, component: str) -> dict[str, Any]:
        """Stops one of the cluster's processes at once (SIGKILL: a crash, not a graceful
        shutdown), waiting for it to be gone; returns what start_component needs to start it
        again exactly as kwokctl did."""
        pid = int(self._pid_file(component).read_text().strip())
        proc = Path(f"/proc/{pid}")
        launch = {
            "args": [a for a in (proc / "cmdline").read_bytes().decode().split("\0") if a],
            "cwd": os.readlink(proc / "cwd"),
            "env": dict(
                entry.split("=", 1)
                for entry in (proc / "environ").read_bytes().decode().split("\0")
                if "=" in entry
            ),
            "log": self.directory / "kwok" / "clusters" / self.name / "logs" / f"{component}.log",
        }
        os.kill(pid, signal.SIGKILL)
        wait_until(lambda: not proc.exists() or _zombie(proc), 60, f"{component} to exit")
        return launch

    def start_component(self, component: str, launch: dict[str, Any]) -> None:
        with open(launch["log"], "a") as log:
            process = subprocess.Popen(
                launch["args"],
                cwd=launch["cwd"],
                env=launch["env"],
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        self._pid_file(component).write_text(f"{process.pid}")


def _zombie(proc: Path) -> bool:
    try:
        return (proc / "stat").read_text().split(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def state_checkpoint(state_dir: Path, stack: str) -> dict[str, Any]:
    """The stack's latest checkpoint as the file backend holds it (readable while a run holds
    the lock: the engine writes it at every step), or {} before the first one."""
    path = state_dir / ".pulumi" / "stacks" / PROJECT_NAME / f"{stack}.json"
    try:
        return json.loads(path.read_text())["checkpoint"].get("latest") or {}
    except (OSError, ValueError, KeyError):
        return {}


def lock_files(state_dir: Path, stack: str) -> list[Path]:
    return sorted(
        (state_dir / ".pulumi" / "locks" / "organization" / PROJECT_NAME / stack).glob("*.json")
    )


def istio_crds(e2e: Prerequisites) -> Path:
    """Istio's CRDs, as the prepared base chart ships them: the platform team's Istio, there
    before any stack that leaves Istio alone."""
    assert e2e.charts_dir is not None
    return e2e.charts_dir / "base" / "files" / "crd-all.gen.yaml"


@dataclass(frozen=True)
class ConfigChange:
    """One change the e2e suite makes to a stack file's config: `path` under `mesh-tracing:`,
    dotted as `pulumi config set --path` takes it; `value` None removes the key."""

    path: str
    value: Optional[str]
    secret: bool = False


def e2e_config_changes(stack: str, charts_dir: Path) -> list[ConfigChange]:
    """How the e2e suite configures a stack beyond its stack file: charts from the prepared
    directory, and prod's storage credentials in a Pulumi secret instead of a Secret the
    cluster's owners made. prepare_stack sets them with the CLI; support.rendered.e2e_plan
    applies them to the plan the benchmarks and the rendered-links tests read."""
    changes = [ConfigChange("charts.source", str(charts_dir))]
    if stack == "prod":
        changes += [
            ConfigChange("jaeger.elasticsearch.existing_secret", None),
            ConfigChange("jaeger.elasticsearch.username", "jaeger"),
            ConfigChange("jaeger.elasticsearch.password", "e2e-password", secret=True),
        ]
    return changes


def prepare_stack(cli: Cli, e2e: Prerequisites, stack: str, project: Path) -> None:
    """A project copy with the stack initialised as tests/e2e/test_stacks.py prepares it: charts
    from the prepared directory, prod's storage credentials from a Pulumi secret, Istio's CRDs
    and the namespaces other teams own in place, the policy pack on this virtual environment."""
    import yaml

    project_copy(project)
    manifest = project / "policy" / "PulumiPolicy.yaml"
    document = yaml.safe_load(manifest.read_text())
    document["runtime"]["options"]["virtualenv"] = str(Path(sys.executable).parent.parent)
    manifest.write_text(yaml.safe_dump(document))
    cli.pulumi("stack", "init", stack, "--secrets-provider", "passphrase", cwd=project)
    assert e2e.charts_dir is not None
    for change in e2e_config_changes(stack, e2e.charts_dir):
        key = f"mesh-tracing:{change.path}"
        if change.value is None:
            cli.pulumi("config", "rm", "--path", key, cwd=project)
        else:
            secret = ["--secret"] if change.secret else []
            cli.pulumi("config", "set", *secret, "--path", key, change.value, cwd=project)
    prepare_cluster(cli, e2e, stack)
    # scripts/up as a user runs it, from the project: its install step is done already (this
    # virtual environment has the package and the pack's requirements).
    (project / "scripts").mkdir()
    shutil.copy(PROJECT_DIR / "scripts" / "up", project / "scripts" / "up")
    install = project / "scripts" / "install"
    install.write_text("#!/usr/bin/env bash\n# done by the test's virtual environment\n")
    install.chmod(0o755)


def prepare_cluster(cli: Cli, e2e: Prerequisites, stack: str) -> None:
    """What the cluster holds before a stack comes up: Istio's CRDs where the stack leaves Istio
    to the platform team, and the namespaces other teams own."""
    if stack != "dev":
        cli.kubectl("apply", "--server-side", "-f", str(istio_crds(e2e)))
    for namespace in OTHER_TEAMS_NAMESPACES[stack]:
        cli.kubectl("create", "namespace", namespace)


def scripts_up(
    cli: Cli, project: Path, stack: str, *args: str, timeout: int = CLI_TIMEOUT_SECONDS
) -> subprocess.CompletedProcess[str]:
    """The project's scripts/up (see prepare_stack) with this Cli's backend and cluster."""
    env = {
        **cli.env,
        "VENV_DIR": str(Path(sys.executable).parent.parent),
        "MESH_TRACING_STATE_DIR": str(cli.state_dir),
    }
    return subprocess.run(
        [str(project / "scripts" / "up"), stack, *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
