"""Faults and drift on a real control plane, through the real CLI: interrupted runs converge,
the API server going away is survived, hand edits are caught and undone, a failing upgrade
rolls back, a destroyed stack comes back onto what it retained, and two runs at once are
refused. Each scenario gets a control plane and a state backend of its own, and ends by checking
that nothing the stack keeps was lost."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from support import NS, evaluated, telemetries
from support.e2e import (
    Cli,
    LocalCluster,
    Prerequisites,
    lock_files,
    prepare_stack,
    scripts_up,
    state_checkpoint,
    wait_until,
)

TELEMETRY = "telemetries.telemetry.istio.io"
RUN_TIMEOUT = 600
UP = ("up", "--yes", "--policy-pack", "policy")


@dataclass
class Plane:
    cli: Cli
    cluster: LocalCluster | None
    tmp: Path

    def project(self, stack: str, e2e: Prerequisites) -> Path:
        project = self.tmp / f"project-{stack}" / "mesh-tracing"
        prepare_stack(self.cli, e2e, stack, project)
        return project


@pytest.fixture
def plane(e2e: Prerequisites, tmp_path: Path) -> Iterator[Plane]:
    """A control plane of this test's own (its objects and faults touch no other test), or the
    cluster the user named, and a fresh state backend."""
    assert e2e.toolchain_bin is not None
    state = tmp_path / "state"
    state.mkdir()
    given = os.environ.get("MESH_TRACING_E2E_KUBECONFIG")
    if given:
        yield Plane(Cli(e2e.toolchain_bin, Path(given), state), None, tmp_path)
        return
    cluster = LocalCluster("mesh-tracing-faults", tmp_path / "cluster", e2e.toolchain_bin)
    try:
        kubeconfig = cluster.up()
        yield Plane(Cli(e2e.toolchain_bin, kubeconfig, state), cluster, tmp_path)
    finally:
        cluster.down()


# ---------------------------------------------------------------------------------------------
# What every scenario ends with
# ---------------------------------------------------------------------------------------------
def _state_resources(cli: Cli, project: Path) -> dict[str, Any]:
    return json.loads(cli.pulumi("stack", "export", cwd=project).stdout)["deployment"]


def _kept(cli: Cli, stack: str) -> dict[str, Any]:
    """What the stack keeps beyond any one run: its namespaces (retained on delete), the badger
    claim and the volume it is bound to (staging's spans), Kiali's signing key (drawn once)."""
    kept: dict[str, Any] = {}
    for namespace in cli.kubectl_json("get", "namespaces")["items"]:
        labels = namespace["metadata"].get("labels", {})
        if labels.get("app.kubernetes.io/part-of") == "mesh-tracing":
            kept[f"namespace/{namespace['metadata']['name']}"] = namespace["metadata"]["uid"]
    claims = cli.kubectl_json("get", "pvc", "-n", "observability")["items"]
    for claim in claims:
        if claim["metadata"]["name"] == "jaeger-badger":
            kept["claim/jaeger-badger"] = (
                claim["metadata"]["uid"],
                claim["spec"].get("volumeName"),
                claim["status"].get("phase"),
            )
    secrets = cli.kubectl_json("get", "secrets", "-n", "observability")["items"]
    for secret in secrets:
        if secret["metadata"]["name"].startswith("kiali-signing"):
            kept[f"secret/{secret['metadata']['name']}"] = secret["data"]
    if stack == "staging":
        assert kept.get("claim/jaeger-badger", (None, None, None))[2] == "Bound", kept
    assert "namespace/observability" in kept, kept
    return kept


def _helm_releases(cli: Cli) -> dict[str, list[tuple[int, str]]]:
    """Each release's revisions and their status, from Helm's own records."""
    releases: dict[str, list[tuple[int, str]]] = {}
    for secret in cli.kubectl_json("get", "secrets", "-A", "-l", "owner=helm")["items"]:
        labels = secret["metadata"]["labels"]
        releases.setdefault(labels["name"], []).append((int(labels["version"]), labels["status"]))
    return {name: sorted(revisions) for name, revisions in releases.items()}


def _assert_converged(cli: Cli, project: Path, stack: str) -> dict[str, Any]:
    """The stack as an uninterrupted `pulumi up` leaves it: no pending operation, exactly the
    resources the program declares, nothing left to change, every Telemetry as declared, every
    Helm release deployed; and what the stack keeps is there. Returns that."""
    deployment = _state_resources(cli, project)
    assert not deployment.get("pending_operations"), deployment.get("pending_operations")
    declared = {(r.type, r.name) for r in evaluated(stack).resources}
    if stack == "prod":
        # prepare_stack gives prod's storage credentials as a Pulumi secret, not a Secret name.
        declared.add(("kubernetes:core/v1:Secret", "mesh-jaeger-storage-credentials"))
    in_state = {
        (r["type"], r["urn"].rsplit("::", 1)[-1])
        for r in deployment["resources"]
        if not r["type"].startswith("pulumi:")
    }
    assert in_state == declared, (sorted(in_state - declared), sorted(declared - in_state))
    cli.pulumi("preview", "--expect-no-changes", "--policy-pack", "policy", cwd=project)
    expected = {
        (t["metadata"]["namespace"], t["metadata"]["name"]): t["spec"]
        for t in telemetries(evaluated(stack))
    }
    live = cli.kubectl_json("get", TELEMETRY, "--all-namespaces")["items"]
    assert {(t["metadata"]["namespace"], t["metadata"]["name"]): t["spec"] for t in live} == (
        expected
    )
    charts = {
        r.inputs["name"]
        for r in evaluated(stack).resources
        if r.type.endswith("helm.sh/v3:Release")
    }
    releases = _helm_releases(cli)
    assert set(releases) == charts, releases
    for name, revisions in releases.items():
        assert revisions[-1][1] == "deployed", (name, revisions)
    return _kept(cli, stack)


# ---------------------------------------------------------------------------------------------
# Runs to interrupt
# ---------------------------------------------------------------------------------------------
@dataclass
class Run:
    process: subprocess.Popen[str]
    output: Path

    def text(self) -> str:
        return self.output.read_text()

    def wait(self, timeout: float = RUN_TIMEOUT) -> int:
        return self.process.wait(timeout=timeout)

    def kill_all(self) -> None:
        """SIGKILL to the CLI and every process under it (the provider plugins run in process
        groups of their own, and would otherwise finish their operations unattended)."""
        for pid in [*_descendants(self.process.pid), self.process.pid]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.process.wait(timeout=60)


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(stat.parent.name))
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _start(cli: Cli, project: Path, *args: str) -> Run:
    """`pulumi ARGS` in a session of its own (the engine, its language host and provider
    plugins), its output in a file."""
    output = project.parent / f"run-{time.monotonic_ns()}.log"
    with open(output, "w") as sink:
        process = subprocess.Popen(
            ["pulumi", "--non-interactive", *args],
            cwd=project,
            env=cli.env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
    return Run(process, output)


def _hold_observability(cli: Cli) -> Callable[[], None]:
    """Holds the observability releases in flight (no pod may start there) until the returned
    function is called: all releases start together, and left alone they finish within a second
    of each other, istiod's last, leaving no point for _part_way."""
    cli.kubectl("create", "namespace", "observability")
    cli.kubectl("create", "quota", "hold-pods", "--hard=pods=0", "-n", "observability")

    def release() -> None:
        cli.kubectl("delete", "quota", "hold-pods", "-n", "observability")

    return release


def _part_way(cli: Cli, stack: str, run: Run) -> dict[str, Any]:
    """Waits until the run has created some resources and is creating a Helm release (so some
    exist and others don't); returns that checkpoint."""

    def in_flight() -> dict[str, Any]:
        assert run.process.poll() is None, f"the run ended before the point:\n{run.text()[-3000:]}"
        latest = state_checkpoint(cli.state_dir, stack)
        pending = latest.get("pending_operations") or []
        # Not counting the provider: Helm releases start as soon as it exists (nothing of
        # ours waits for another release), so one may be in flight before anything else is made.
        created = [
            r
            for r in latest.get("resources", [])
            if r.get("custom") and not r["type"].startswith("pulumi:providers:")
        ]
        releases = [p for p in pending if p["resource"]["type"] == "kubernetes:helm.sh/v3:Release"]
        # Not while istiod's release is in flight: the re-run would upgrade it, and on upgrade
        # the chart drops the webhook's `failurePolicy: Ignore` (templates/validatingwebhook
        # configuration.yaml: only a first install fails open). A real istiod then serves its
        # webhook; a simulated pod cannot, and every Telemetry would be refused.
        istio = [p for p in pending if p["resource"]["urn"].endswith(("istiod", "istio-base"))]
        return latest if created and releases and not istio else {}

    return wait_until(
        in_flight,
        RUN_TIMEOUT,
        "a first up with resources created and a Helm release in flight",
        0.05,
    )


@pytest.mark.parametrize("stack", ["dev", "staging"])
@pytest.mark.parametrize("how", ["SIGINT", "SIGKILL"])
def test_an_interrupted_first_up_converges(
    plane: Plane, e2e: Prerequisites, stack: str, how: str
) -> None:
    cli = plane.cli
    project = plane.project(stack, e2e)
    release_the_hold = _hold_observability(cli)
    run = _start(cli, project, *UP)
    checkpoint = _part_way(cli, stack, run)

    declared = {r.name for r in evaluated(stack).resources if r.custom}
    existing = {r["urn"].rsplit("::", 1)[-1] for r in checkpoint["resources"] if r.get("custom")}
    assert existing & declared and declared - existing, "not part way"
    torn: list[Path] = []
    if how == "SIGINT":
        # Ctrl-C: the engine lets the operations in flight finish and stops.
        run.process.send_signal(signal.SIGINT)
        release_the_hold()
        assert run.wait() != 0
    else:
        # The machine or the CI job dies: the engine, language host and providers at once.
        run.kill_all()
        release_the_hold()
        assert lock_files(cli.state_dir, stack), "a killed run leaves the backend's lock"
        # Read from the file: the CLI may not load it (an empty sidecar, below).
        left = state_checkpoint(cli.state_dir, stack).get("pending_operations") or []
        assert left, "a killed run leaves its operations pending"
        # Killed while writing a metadata sidecar, the backend leaves it empty.
        torn = [a for a in (cli.state_dir / ".pulumi").rglob("*.attrs") if a.stat().st_size == 0]
        # The plain re-run is refused: by the lock a killed run leaves behind, or the torn file.
        refused = cli.pulumi(*UP, cwd=project, check=False)
        said = refused.stderr + refused.stdout
        assert refused.returncode != 0
        assert "currently locked" in said or (torn and "failed to load checkpoint: EOF" in said)

    again = scripts_up(cli, project, stack, "--yes")
    said = again.stdout + again.stderr
    assert again.returncode == 0, said[-6000:]
    if how == "SIGKILL":
        for path in torn:
            assert f"{path} is empty (a run was killed while writing it)" in again.stderr
        assert "ended without releasing its lock" in again.stderr
        assert f"pulumi cancel --stack {stack} --yes" in again.stderr
        assert "was interrupted with" in again.stderr
        assert f"pulumi refresh --stack {stack} --yes" in again.stderr
        assert "--clear-pending-creates" in again.stderr
    _assert_converged(cli, project, stack)


# ---------------------------------------------------------------------------------------------
# The API server goes away
# ---------------------------------------------------------------------------------------------
def test_the_api_server_going_away_during_an_up_is_survived(
    plane: Plane, e2e: Prerequisites
) -> None:
    if plane.cluster is None:
        pytest.skip("stops kube-apiserver: only on the suite's own control plane")
    cli, cluster, stack = plane.cli, plane.cluster, "dev"
    project = plane.project(stack, e2e)
    release_the_hold = _hold_observability(cli)
    run = _start(cli, project, *UP)
    _part_way(cli, stack, run)
    launch = cluster.stop_component("kube-apiserver")
    try:
        # A few seconds without an API server, while the engine is creating.
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and run.process.poll() is None:
            time.sleep(0.2)
    finally:
        cluster.start_component("kube-apiserver", launch)
    wait_until(
        lambda: cli.kubectl("get", "--raw", "/readyz", check=False).stdout == "ok",
        120,
        "kube-apiserver /readyz after the restart",
        1,
    )
    release_the_hold()
    status = run.wait()
    said = run.text()
    print(f"the up during the outage exited {status}")  # which way it went, with -s or -rP
    if status != 0:
        # It failed: with a message naming the API it could not reach, not a hang.
        assert any(
            clue in said
            for clue in ("connection refused", "connect: ", "unable to", "failed to", "error:")
        ), said[-4000:]
    again = scripts_up(cli, project, stack, "--yes")
    assert again.returncode == 0, (again.stdout + again.stderr)[-6000:]
    _assert_converged(cli, project, stack)


# ---------------------------------------------------------------------------------------------
# Two runs at once
# ---------------------------------------------------------------------------------------------
def test_a_second_run_at_once_is_refused_and_scripts_up_explains(
    plane: Plane, e2e: Prerequisites
) -> None:
    cli, stack = plane.cli, "dev"
    project = plane.project(stack, e2e)
    first = _start(cli, project, *UP)
    try:
        wait_until(lambda: lock_files(cli.state_dir, stack), 120, "the first run to take the lock")
        # Held where it is (SIGSTOP), the first run keeps the lock for as long as this takes.
        first.process.send_signal(signal.SIGSTOP)
        second = cli.pulumi(*UP, cwd=project, check=False)
        explained = scripts_up(cli, project, stack, "--yes")
    finally:
        first.process.send_signal(signal.SIGCONT)
        status = first.wait()
    assert second.returncode != 0
    assert "the stack is currently locked by 1 lock(s)" in second.stderr + second.stdout
    assert explained.returncode == 4, explained.stdout + explained.stderr
    assert f"pid {first.process.pid}" in explained.stderr
    assert "is locked by another run" in explained.stderr
    assert f"pulumi cancel --stack {stack} --yes" in explained.stderr
    # The refused runs changed nothing: the first one finishes as if alone.
    assert status == 0, first.text()[-4000:]
    _assert_converged(cli, project, stack)


# ---------------------------------------------------------------------------------------------
# Destroy and come back
# ---------------------------------------------------------------------------------------------
def test_a_destroyed_stack_comes_back_onto_what_it_retained(
    plane: Plane, e2e: Prerequisites
) -> None:
    cli, stack = plane.cli, "staging"
    project = plane.project(stack, e2e)
    cli.pulumi(*UP, cwd=project)
    before = _assert_converged(cli, project, stack)
    cli.pulumi("destroy", "--yes", cwd=project)
    # The stack's namespace and badger claim outlive it: same objects, still bound.
    retained = _kept(cli, stack)
    assert retained["namespace/observability"] == before["namespace/observability"]
    assert retained["claim/jaeger-badger"] == before["claim/jaeger-badger"]
    assert not cli.kubectl_json("get", "deployments", "-n", "observability")["items"]

    back = cli.pulumi(*UP, cwd=project)
    assert "already exists" not in back.stdout + back.stderr
    after = _assert_converged(cli, project, stack)
    # Taken over, never deleted and made again: the same namespace and claim (same uid), bound
    # to the same volume, and the new Jaeger mounts that claim.
    for key in ("namespace/observability", "claim/jaeger-badger"):
        assert after[key] == before[key], key
    jaeger = cli.kubectl_json("get", "deployment", "jaeger", "-n", "observability")
    claims = [
        volume["persistentVolumeClaim"]["claimName"]
        for volume in jaeger["spec"]["template"]["spec"].get("volumes", [])
        if "persistentVolumeClaim" in volume
    ]
    assert claims == ["jaeger-badger"]


# ---------------------------------------------------------------------------------------------
# Drift, and a failing upgrade, on production
# ---------------------------------------------------------------------------------------------
def _mesh_wide(cli: Cli) -> dict[str, Any]:
    return cli.kubectl_json("get", TELEMETRY, "-n", "istio-system")["items"]


def test_hand_edits_of_production_telemetry_are_caught_and_undone(
    plane: Plane, e2e: Prerequisites
) -> None:
    cli, stack = plane.cli, "prod"
    project = plane.project(stack, e2e)
    cli.pulumi(*UP, cwd=project)
    before = _assert_converged(cli, project, stack)
    (telemetry,) = _mesh_wide(cli)
    name = telemetry["metadata"]["name"]
    assert telemetry["spec"]["tracing"][0]["randomSamplingPercentage"] == 1

    # Someone turns production sampling up to 100 % by hand.
    patch = [{"op": "replace", "path": "/spec/tracing/0/randomSamplingPercentage", "value": 100}]
    cli.kubectl(
        "patch", TELEMETRY, name, "-n", "istio-system", "--type=json", "-p", json.dumps(patch)
    )
    drift = cli.pulumi(
        "preview", "--refresh", "--expect-no-changes", "--diff", "--policy-pack", "policy",
        cwd=project, check=False,
    )  # fmt: skip
    assert drift.returncode != 0, drift.stdout[-3000:]
    assert "randomSamplingPercentage" in drift.stdout
    assert "100" in drift.stdout
    restored = cli.pulumi("up", "--refresh", "--yes", "--policy-pack", "policy", cwd=project)
    assert "mesh-tracing@" in restored.stdout  # the pack judged the refreshed update
    (telemetry,) = _mesh_wide(cli)
    assert telemetry["spec"]["tracing"][0]["randomSamplingPercentage"] == 1

    # Someone deletes it.
    cli.kubectl("delete", TELEMETRY, name, "-n", "istio-system")
    gone = cli.pulumi(
        "preview", "--refresh", "--expect-no-changes", "--policy-pack", "policy",
        cwd=project, check=False,
    )  # fmt: skip
    assert gone.returncode != 0 and "create" in gone.stdout.split("Resources:")[-1]
    cli.pulumi("up", "--refresh", "--yes", "--policy-pack", "policy", cwd=project)
    assert [t["spec"]["tracing"][0]["randomSamplingPercentage"] for t in _mesh_wide(cli)] == [1]
    after = _assert_converged(cli, project, stack)
    assert after == before


REFUSE_MORE_JAEGER_REPLICAS = """
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: e2e-refuse-jaeger-scale-up}
spec:
  failurePolicy: Fail
  matchConstraints:
    resourceRules:
    - apiGroups: [apps]
      apiVersions: [v1]
      operations: [UPDATE]
      resources: [deployments]
  validations:
  - expression: "object.metadata.name != 'jaeger' || object.spec.replicas <= REPLICAS"
    message: "e2e: the cluster refuses this upgrade of jaeger"
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: e2e-refuse-jaeger-scale-up}
spec:
  policyName: e2e-refuse-jaeger-scale-up
  validationActions: [Deny]
  matchResources:
    namespaceSelector:
      matchLabels: {kubernetes.io/metadata.name: observability}
"""


def test_a_failing_upgrade_rolls_back_and_the_next_good_up_succeeds(
    plane: Plane, e2e: Prerequisites, tmp_path: Path
) -> None:
    cli, stack = plane.cli, "prod"
    project = plane.project(stack, e2e)
    cli.pulumi(*UP, cwd=project)
    before = _assert_converged(cli, project, stack)
    deployed = _helm_releases(cli)["jaeger"]
    serving = cli.kubectl_json("get", "deployment", "jaeger", "-n", "observability")
    replicas = serving["spec"]["replicas"]
    more = json.dumps({"spec": {"replicas": replicas + 1}})

    # The upgrade (one Jaeger replica more) is refused by the cluster part way through Helm's
    # apply; prod's Jaeger release is atomic.
    policy = tmp_path / "refuse.yaml"
    policy.write_text(REFUSE_MORE_JAEGER_REPLICAS.replace("REPLICAS", str(replicas)))
    cli.kubectl("apply", "-f", str(policy))
    wait_until(
        lambda: cli.kubectl(
            "patch", "deployment", "jaeger", "-n", "observability", "--type=merge",
            "-p", more, "--dry-run=server", check=False,
        ).returncode != 0,
        60,
        "the admission policy to refuse another replica",
        1,
    )  # fmt: skip
    cli.pulumi(
        "config", "set", "--path", f"{NS}jaeger.replicas", str(replicas + 1), "--type", "int",
        cwd=project,
    )  # fmt: skip
    failed = cli.pulumi(*UP, cwd=project, check=False)
    said = failed.stdout + failed.stderr
    assert failed.returncode != 0, said[-3000:]
    assert "the cluster refuses this upgrade of jaeger" in said, said[-4000:]

    # Rolled back: Helm's last revision is deployed again with the previous values, the
    # replicas that served still serve, and the state holds no pending operation.
    revisions = _helm_releases(cli)["jaeger"]
    print(f"jaeger's Helm revisions after the refused upgrade: {revisions}")
    assert revisions[-1][1] == "deployed" and len(revisions) > len(deployed), revisions
    jaeger = cli.kubectl_json("get", "deployment", "jaeger", "-n", "observability")
    assert jaeger["spec"]["replicas"] == replicas
    assert jaeger["status"].get("availableReplicas") == replicas
    assert jaeger["metadata"]["uid"] == serving["metadata"]["uid"]
    assert not _state_resources(cli, project).get("pending_operations")

    # Once the cluster accepts it, the next up succeeds.
    cli.kubectl("delete", "-f", str(policy))
    wait_until(
        lambda: cli.kubectl(
            "patch", "deployment", "jaeger", "-n", "observability", "--type=merge",
            "-p", more, "--dry-run=server", check=False,
        ).returncode == 0,
        60,
        "the admission policy to go",
        1,
    )  # fmt: skip
    cli.pulumi(*UP, cwd=project)
    wait_until(
        lambda: (
            cli.kubectl_json("get", "deployment", "jaeger", "-n", "observability")["status"].get(
                "availableReplicas"
            )
            == replicas + 1
        ),
        120,
        "the added Jaeger replica to be available",
        1,
    )
    cli.pulumi("preview", "--expect-no-changes", "--policy-pack", "policy", cwd=project)
    assert _kept(cli, stack) == before
