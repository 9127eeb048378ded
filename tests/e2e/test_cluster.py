"""scripts/cluster against the real thing: etcd, kube-apiserver, controller-manager, scheduler
and kwok from scripts/toolchain's bin directory, in a temporary MESH_TRACING_CLUSTER_DIR.

Skipped (with a reason) when the toolchain has not built those programs; nothing here builds
or downloads anything. The tests share one cluster; the last one tears it down and checks that
nothing is left, so keep it last.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "cluster"
TOOLCHAIN = ROOT / "scripts" / "toolchain"
PROGRAMS = (
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kubectl",
    "kwok",
    "kwokctl",
)
USER_KUBECONFIG = Path.home() / ".kube" / "config"


def toolchain_bin() -> Path:
    """The bin directory with every program the cluster needs, or pytest.skip saying why not."""
    given = os.environ.get("MESH_TRACING_TOOLCHAIN_BIN")
    if given:
        bin_dir = Path(given)
    else:
        check = subprocess.run(
            [str(TOOLCHAIN), "--check", "--only", "etcd,kwok,kube"],
            capture_output=True,
            text=True,
            check=False,
        )
        lines = check.stdout.strip().splitlines()
        if not lines:
            pytest.skip(
                f"SKIPPED: scripts/toolchain --check printed nothing: {check.stderr[-500:]}"
            )
        bin_dir = Path(lines[-1])
    missing = [p for p in PROGRAMS if not os.access(bin_dir / p, os.X_OK)]
    if missing:
        pytest.skip(
            f"SKIPPED: {', '.join(missing)} not built in {bin_dir} "
            "(scripts/toolchain builds them; these tests never do)"
        )
    return bin_dir


def file_state(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None


def ere_escape(text: str) -> str:
    """`text` as a POSIX extended regular expression (pgrep's) matching only itself."""
    return re.sub(r"([.\[\]()*+?{}|^$\\])", r"\\\1", text)


@dataclass
class Cluster:
    bin: Path
    dir: Path
    kubeconfig: Path
    env: dict[str, str]
    up_seconds: float
    user_kubeconfig_before: str | None

    def script(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(SCRIPT), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=600,
            check=check,
        )

    def kubectl(self, *args: str, stdin: str | None = None) -> str:
        done = subprocess.run(
            [str(self.bin / "kubectl"), "--kubeconfig", str(self.kubeconfig), *args],
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, f"kubectl {' '.join(args)}: {done.stderr}"
        return done.stdout

    def wait(self, what: str, probe: Callable[[], bool], timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while not probe():
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            time.sleep(1)

    def pids(self) -> list[int]:
        """Processes started from this cluster's directory."""
        done = subprocess.run(
            ["pgrep", "-f", "--", ere_escape(f"{self.dir}/")],
            capture_output=True,
            text=True,
            check=False,
        )
        return [int(p) for p in done.stdout.split()]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    bin_dir = toolchain_bin()
    cluster_dir = tmp_path_factory.mktemp("cluster") / "c"
    env = {
        **os.environ,
        "MESH_TRACING_CLUSTER_DIR": str(cluster_dir),
        "MESH_TRACING_TOOLCHAIN_BIN": str(bin_dir),
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        # The tests' own kubectl calls cache discovery there too, not in ~/.kube/cache.
        "KUBECACHEDIR": str(cluster_dir / "kubectl-cache"),
    }
    env.pop("KUBECONFIG", None)
    before = file_state(USER_KUBECONFIG)
    c = Cluster(bin_dir, cluster_dir, cluster_dir / "kubeconfig", env, 0.0, before)
    start = time.monotonic()
    up = c.script("up", check=False)
    c.up_seconds = time.monotonic() - start
    try:
        assert up.returncode == 0, f"scripts/cluster up failed:\n{up.stdout}\n{up.stderr}"
        assert up.stdout.strip().splitlines()[-1] == str(c.kubeconfig)
        yield c
    finally:
        c.script("down", check=False)


def test_up_prints_guidance_and_env_matches(cluster: Cluster) -> None:
    env = cluster.script("env").stdout
    assert f"export KUBECONFIG={cluster.kubeconfig}" in env.splitlines()
    assert "export PATH=" in env
    print(f"scripts/cluster up took {cluster.up_seconds:.1f}s")


def test_readyz_and_status(cluster: Cluster) -> None:
    assert cluster.kubectl("get", "--raw", "/readyz").strip() == "ok"
    status = cluster.script("status", check=False)
    assert status.returncode == 0, status.stdout + status.stderr


def test_three_nodes_ready(cluster: Cluster) -> None:
    nodes = json.loads(cluster.kubectl("get", "nodes", "-o", "json"))["items"]
    assert len(nodes) == 3
    for node in nodes:
        ready = [c for c in node["status"]["conditions"] if c["type"] == "Ready"]
        assert ready and ready[0]["status"] == "True", node["metadata"]["name"]
        allocatable = node["status"]["allocatable"]
        assert int(allocatable["pods"]) >= 30


def test_claim_without_storage_class_binds(cluster: Cluster) -> None:
    cluster.kubectl("create", "namespace", "e2e-pvc")
    cluster.kubectl(
        "apply",
        "-n",
        "e2e-pvc",
        "-f",
        "-",
        stdin="""
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 10Gi}}
""",
    )

    def bound() -> bool:
        phase = cluster.kubectl(
            "get", "pvc", "data", "-n", "e2e-pvc", "-o", "jsonpath={.status.phase}"
        )
        return phase == "Bound"

    cluster.wait("the 10Gi claim to bind", bound)
    cls = cluster.kubectl(
        "get", "pvc", "data", "-n", "e2e-pvc", "-o", "jsonpath={.spec.storageClassName}"
    )
    assert cls == "standard"


def test_deployment_becomes_available_with_endpoints(cluster: Cluster) -> None:
    cluster.kubectl("create", "namespace", "e2e-web")
    cluster.kubectl(
        "apply",
        "-n",
        "e2e-web",
        "-f",
        "-",
        stdin="""
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: registry.k8s.io/pause:3.10
        ports: [{containerPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
""",
    )
    cluster.kubectl(
        "wait", "-n", "e2e-web", "--for=condition=Available", "deployment/web", "--timeout=120s"
    )

    def endpoints() -> list[str]:
        out = cluster.kubectl(
            "get",
            "endpointslices",
            "-n",
            "e2e-web",
            "-l",
            "kubernetes.io/service-name=web",
            "-o",
            "jsonpath={.items[*].endpoints[*].addresses[*]}",
        )
        return out.split()

    cluster.wait("the Service's endpoints", lambda: len(endpoints()) == 2)


def test_components_listen_on_loopback_only(cluster: Cluster) -> None:
    if shutil.which("ss") is None:
        pytest.skip("SKIPPED: ss (iproute2) is not installed")
    pids = set(cluster.pids())
    assert pids, "no processes of the cluster found"
    listening = subprocess.run(
        ["ss", "-Hltnp"], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    ours = [
        line for line in listening if any(int(p) in pids for p in re.findall(r"pid=(\d+)", line))
    ]
    assert ours, "the cluster's processes listen on nothing?"
    for line in ours:
        local = line.split()[3]
        assert local.startswith(("127.0.0.1:", "[::1]:")), line


def test_up_again_reuses_the_cluster(cluster: Cluster) -> None:
    pids = set(cluster.pids())
    up = cluster.script("up")
    assert "already up" in up.stderr
    assert up.stdout.strip().splitlines()[-1] == str(cluster.kubeconfig)
    assert set(cluster.pids()) == pids


def test_down_leaves_nothing(cluster: Cluster) -> None:
    """Last: tears the shared cluster down."""
    assert cluster.pids()
    cluster.script("down")
    assert cluster.pids() == []
    assert not cluster.dir.exists()
    assert file_state(USER_KUBECONFIG) == cluster.user_kubeconfig_before
    assert cluster.script("status", check=False).returncode != 0
