"""What a user waits for: `pulumi up` through the real engine, against the peer, in the same run.

    python benchmarks/deploy.py [--stack NAME]... [--overrides 10,100,1000] [--json FILE]

The peer is what a user would do without us: `helm install` of the same charts with the same
values, and `kubectl apply` of the same Namespaces, Secrets, claim, NetworkPolicy, PDB,
Telemetry and EnvoyFilter, all rendered from our own plan of the stack (`mesh_tracing.plan`), in
the order a script would run them. Ours is `pulumi up --yes --policy-pack policy`, as
scripts/up runs it. Each side starts from a fresh local control plane (scripts/cluster), with
what the e2e suite puts there first (Istio's CRDs where the stack leaves Istio alone, the
namespaces other teams own). Per stack:

- from nothing: `pulumi up` against the peer installing everything;
- no change: a second `pulumi up` against `pulumi preview` and against the peer re-applying
  (`helm upgrade` of each release with the same values, `kubectl apply` of every object);
- one sampling value changed: `pulumi up` against `kubectl apply` of that one Telemetry;
- prod only: 10, 100 and 1,000 namespace overrides added (their namespaces created first,
  untimed): `pulumi up` against `kubectl apply` of the same Telemetry objects, per override.

Where the time of a `pulumi up` from nothing goes is read from the engine's own event log
(`--event-log`): the resources that took longest between the engine's step and their outputs.

Prints tables of ratios and writes JSON (default benchmarks/results/deploy.json). Needs the
toolchain (with helm) and the prepared charts; without them it prints one SKIPPED line and
exits 0. About 15 to 25 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

PROJECT_DIR = Path(__file__).resolve().parent.parent
# The benchmark stands up stacks exactly as the e2e suite does: reuse its helpers rather than
# copy them (the local control plane, the CLI with its own state, the stack's preparation).
sys.path.insert(0, str(PROJECT_DIR / "tests"))

from mesh_tracing.plan.evaluate import StackEvaluation  # noqa: E402
from support import telemetries  # noqa: E402
from support.e2e import (  # noqa: E402
    Cli,
    LocalCluster,
    Prerequisites,
    prepare_cluster,
    prepare_stack,
    prerequisites,
)
from support.rendered import (  # noqa: E402
    chart_path,
    e2e_plan,
    override_namespaces,
    plain_objects,
    releases,
)
from support.toolchain import built  # noqa: E402

STACKS = ("dev", "staging", "prod")
OVERRIDE_COUNTS = (10, 100, 1000)
NS = "mesh-tracing:"
POLICY = ("--policy-pack", "policy")
CHANGED_SAMPLING = {"dev": 50, "staging": 2, "prod": 2}
"""The one sampling value each stack changes to (from 100, 1 and 1)."""


def seconds(action: Callable[[], Any]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


# ---------------------------------------------------------------------------------------------
# The peer: helm and kubectl on the same rendered objects
# ---------------------------------------------------------------------------------------------


@dataclass
class Peer:
    releases: list[dict[str, Any]]
    objects: list[dict[str, Any]]
    """Everything not a Helm release, Namespaces first; Istio's resources last (in dev their
    CRDs come with the base chart)."""
    charts_dir: Path
    work: Path

    @classmethod
    def of(cls, evaluation: StackEvaluation, charts_dir: Path, work: Path) -> Peer:
        def order(manifest: dict[str, Any]) -> int:
            if manifest["kind"] == "Namespace":
                return 0
            return 2 if _is_istio(manifest) else 1

        work.mkdir(parents=True, exist_ok=True)
        objects = sorted(plain_objects(evaluation), key=order)
        return cls(releases(evaluation), objects, charts_dir, work)

    def _manifest(self, name: str, objects: Iterable[dict[str, Any]]) -> Path:
        path = self.work / name
        path.write_text(yaml.safe_dump_all(list(objects)))
        return path

    def _helm(self, cli: Cli, verb: str, release: dict[str, Any]) -> None:
        values = self.work / f"{release['name']}-values.json"
        values.write_text(json.dumps(release["values"]))
        args = [
            "helm",
            verb,
            release["name"],
            str(chart_path(release, self.charts_dir)),
            "--namespace",
            release["namespace"],
            "--values",
            str(values),
            # What the Kubernetes provider's Release does unless told to skip awaiting.
            "--wait",
            "--timeout",
            f"{release.get('timeout', 300)}s",
        ]
        if release.get("createNamespace") and verb == "install":
            args.append("--create-namespace")
        if release.get("atomic"):
            args.append("--atomic")
        cli.run(*args, cwd=self.work)

    def _apply(self, cli: Cli, manifest: Path) -> None:
        cli.run("kubectl", "apply", "--server-side", "-f", str(manifest), cwd=self.work)

    def install(self, cli: Cli) -> None:
        istio = [o for o in self.objects if _is_istio(o)]
        plain = [o for o in self.objects if o not in istio]
        self._apply(cli, self._manifest("objects.yaml", plain))
        for release in self.releases:
            self._helm(cli, "install", release)
        if istio:
            self._apply(cli, self._manifest("istio.yaml", istio))

    def reapply(self, cli: Cli) -> None:
        self._apply(cli, self._manifest("all.yaml", self.objects))
        for release in self.releases:
            self._helm(cli, "upgrade", release)

    def apply_objects(self, cli: Cli, name: str, objects: list[dict[str, Any]]) -> None:
        self._apply(cli, self._manifest(name, objects))


def _is_istio(manifest: dict[str, Any]) -> bool:
    """Istio's resources need its CRDs, which dev's base chart brings."""
    return manifest["apiVersion"].split("/")[0].endswith("istio.io")


def _telemetries(evaluation: StackEvaluation) -> list[dict[str, Any]]:
    return [copy.deepcopy(t) for t in telemetries(evaluation)]


def _root_telemetry(evaluation: StackEvaluation) -> dict[str, Any]:
    (root,) = [
        t
        for t in _telemetries(evaluation)
        if t["metadata"]["namespace"] == "istio-system" and "selector" not in t["spec"]
    ]
    return root


# ---------------------------------------------------------------------------------------------
# Where the time goes: the engine's event log
# ---------------------------------------------------------------------------------------------


def slowest_steps(event_log: Path, count: int = 5) -> list[dict[str, Any]]:
    started: dict[str, float] = {}
    durations: dict[str, float] = {}
    for line in event_log.read_text().splitlines():
        event = json.loads(line)
        stamp = float(event.get("timestamp", 0))
        if "resourcePreEvent" in event:
            metadata = event["resourcePreEvent"]["metadata"]
            if metadata.get("op") not in ("same", "read"):
                started.setdefault(metadata["urn"], stamp)
        elif "resOutputsEvent" in event:
            urn = event["resOutputsEvent"]["metadata"]["urn"]
            if urn in started:
                durations[urn] = stamp - started[urn]
    ranked = sorted(durations.items(), key=lambda item: -item[1])[:count]
    return [
        {"resource": "::".join(urn.split("::")[-2:]), "seconds": round(value, 1)}
        for urn, value in ranked
    ]


# ---------------------------------------------------------------------------------------------
# One stack, both sides
# ---------------------------------------------------------------------------------------------


class Sides:
    def __init__(self, e2e: Prerequisites, helm_bin: Path, root: Path) -> None:
        assert e2e.toolchain_bin is not None and e2e.charts_dir is not None
        self.e2e = e2e
        self.bin_dir = e2e.toolchain_bin
        self.helm_bin = helm_bin
        self.charts_dir = e2e.charts_dir
        self.root = root
        self.clusters = 0

    def cluster(self, label: str) -> tuple[LocalCluster, Cli]:
        self.clusters += 1
        directory = self.root / f"cluster-{self.clusters}-{label}"
        directory.mkdir()
        cluster = LocalCluster(f"mesh-bench-{self.clusters}", directory, self.bin_dir)
        kubeconfig = cluster.up()
        cli = Cli(self.bin_dir, kubeconfig, self.root / f"state-{self.clusters}")
        cli.state_dir.mkdir()
        for name in ("HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME"):
            cli.env[name] = str(directory / name.lower())
        return cluster, cli

    def ours(self, stack: str, overrides: tuple[int, ...]) -> dict[str, Any]:
        cluster, cli = self.cluster(f"ours-{stack}")
        try:
            project = self.root / f"project-{stack}" / "mesh-tracing"
            prepare_stack(cli, self.e2e, stack, project)
            event_log = self.root / f"events-{stack}.jsonl"
            result: dict[str, Any] = {}
            # The engine's event log is a debugging flag: offered only with PULUMI_DEBUG_COMMANDS.
            cli.env["PULUMI_DEBUG_COMMANDS"] = "true"
            result["up"] = seconds(
                lambda: cli.pulumi(
                    "up", "--yes", *POLICY, "--event-log", str(event_log), cwd=project
                )
            )
            del cli.env["PULUMI_DEBUG_COMMANDS"]
            result["slowest"] = slowest_steps(event_log)
            result["up_no_change"] = seconds(
                lambda: cli.pulumi("up", "--yes", *POLICY, cwd=project)
            )
            result["preview"] = seconds(lambda: cli.pulumi("preview", *POLICY, cwd=project))
            # `pulumi up` previews, then updates: the program runs twice. Without the preview,
            # what the update itself costs.
            result["up_no_change_skip_preview"] = seconds(
                lambda: cli.pulumi("up", "--yes", "--skip-preview", *POLICY, cwd=project)
            )
            cli.pulumi(
                "config", "set", "--path", f"{NS}tracing.sampling",
                str(CHANGED_SAMPLING[stack]), "--type", "float", cwd=project,
            )  # fmt: skip
            result["up_one_sampling"] = seconds(
                lambda: cli.pulumi("up", "--yes", *POLICY, cwd=project)
            )
            if overrides:
                result["overrides"] = self._our_overrides(cli, project, overrides)
            return result
        finally:
            cluster.down()

    def _our_overrides(self, cli: Cli, project: Path, counts: tuple[int, ...]) -> dict[str, Any]:
        _create_namespaces(cli, self.root, max(counts))
        stack_file = project / "stacks" / "Pulumi.prod.yaml"
        rows: dict[str, Any] = {}
        previous = 0
        for count in counts:
            document = yaml.safe_load(stack_file.read_text())
            tracing = document["config"][f"{NS}tracing"]
            tracing.setdefault("namespaces", {}).update(override_namespaces(count))
            stack_file.write_text(yaml.safe_dump(document))
            took = seconds(lambda: cli.pulumi("up", "--yes", *POLICY, cwd=project))
            rows[str(count)] = {"added": count - previous, "seconds": took}
            previous = count
        return rows

    def peer(self, stack: str, overrides: tuple[int, ...]) -> dict[str, Any]:
        cluster, cli = self.cluster(f"peer-{stack}")
        try:
            prepare_cluster(cli, self.e2e, stack)
            evaluation = e2e_plan(stack, self.charts_dir)
            peer = Peer.of(evaluation, self.charts_dir, self.root / f"peer-{stack}")
            result: dict[str, Any] = {}
            result["install"] = seconds(lambda: peer.install(cli))
            root = _root_telemetry(evaluation)
            root["spec"]["tracing"][0]["randomSamplingPercentage"] = float(CHANGED_SAMPLING[stack])
            result["apply_one_sampling"] = seconds(
                lambda: peer.apply_objects(cli, "one.yaml", [root])
            )
            # After the one-sampling change: re-applying puts the stack's own sampling back. (And
            # in dev, `helm upgrade` of istiod sets its validating webhook to fail closed, which
            # this sandbox's TLS interception would then fail for the Telemetry apply.)
            result["reapply"] = seconds(lambda: peer.reapply(cli))
            if overrides:
                _create_namespaces(cli, self.root, max(overrides))
                rows: dict[str, Any] = {}
                previous = 0
                for count in overrides:
                    added = [
                        t
                        for t in _telemetries(e2e_plan(stack, self.charts_dir, count))
                        if t["metadata"]["namespace"].startswith("team-")
                    ][previous:]
                    took = seconds(lambda a=added: peer.apply_objects(cli, "overrides.yaml", a))
                    rows[str(count)] = {"added": len(added), "seconds": took}
                    previous = count
                result["overrides"] = rows
            return result
        finally:
            cluster.down()


def _create_namespaces(cli: Cli, root: Path, count: int) -> None:
    path = root / f"namespaces-{count}.yaml"
    path.write_text(
        yaml.safe_dump_all(
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
            for name in override_namespaces(count)
        )
    )
    cli.kubectl("apply", "--server-side", "-f", str(path))


# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------


def ratios(ours: dict[str, Any], peer: dict[str, Any]) -> dict[str, Any]:
    row = {
        "up_vs_peer_install": ours["up"] / peer["install"],
        "up_no_change_vs_preview": ours["up_no_change"] / ours["preview"],
        "up_skip_preview_no_change_vs_preview": ours["up_no_change_skip_preview"] / ours["preview"],
        "up_no_change_vs_peer_reapply": ours["up_no_change"] / peer["reapply"],
        "up_one_sampling_vs_kubectl_apply": ours["up_one_sampling"] / peer["apply_one_sampling"],
    }
    if "overrides" in ours:
        per = {}
        for count, mine in ours["overrides"].items():
            theirs = peer["overrides"][count]
            per[count] = {
                "added": mine["added"],
                "ms_per_override": 1000 * mine["seconds"] / mine["added"],
                "peer_ms_per_override": 1000 * theirs["seconds"] / theirs["added"],
                "vs_peer": mine["seconds"] / theirs["seconds"],
            }
        row["overrides"] = per
    return row


def table(results: dict[str, Any]) -> str:
    lines = [
        "| stack | up / peer install | no-change up / preview | the same with --skip-preview "
        "| no-change up / peer re-apply | one sampling: up / kubectl apply |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for stack, row in results["stacks"].items():
        r, o, p = row["ratios"], row["ours"], row["peer"]
        lines.append(
            f"| {stack} | {r['up_vs_peer_install']:.2f} ({o['up']:.0f} s / {p['install']:.0f} s) "
            f"| {r['up_no_change_vs_preview']:.2f} ({o['up_no_change']:.0f} s / "
            f"{o['preview']:.0f} s) | {r['up_skip_preview_no_change_vs_preview']:.2f} | "
            f"{r['up_no_change_vs_peer_reapply']:.2f} "
            f"({p['reapply']:.0f} s) | {r['up_one_sampling_vs_kubectl_apply']:.1f} "
            f"({o['up_one_sampling']:.0f} s / {p['apply_one_sampling']:.1f} s) |"
        )
    for stack, row in results["stacks"].items():
        lines += ["", f"{stack}, slowest steps of `pulumi up` from nothing:"]
        lines += [f"- {step['resource']}: {step['seconds']:g} s" for step in row["ours"]["slowest"]]
        overrides = row["ratios"].get("overrides")
        if overrides:
            lines += [
                "",
                f"{stack}, namespace overrides added (cumulative)",
                "| overrides | added | ms per override | peer ms per override | x peer |",
                "| --- | --- | --- | --- | --- |",
            ]
            lines += [
                f"| {count} | {o['added']} | {o['ms_per_override']:.0f} | "
                f"{o['peer_ms_per_override']:.0f} | {o['vs_peer']:.1f} |"
                for count, o in overrides.items()
            ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack", action="append", choices=STACKS)
    parser.add_argument("--overrides", default=",".join(map(str, OVERRIDE_COUNTS)))
    parser.add_argument(
        "--json", type=Path, default=PROJECT_DIR / "benchmarks" / "results" / "deploy.json"
    )
    arguments = parser.parse_args()
    e2e = prerequisites()
    helm_bin, missing = built("helm")
    reason = e2e.reason or (f"helm is not built ({missing})" if helm_bin is None else None)
    if reason is not None:
        print(f"SKIPPED: deploy benchmark: {reason}")
        return 0
    assert helm_bin is not None
    overrides = tuple(int(n) for n in arguments.overrides.split(",") if n)
    results: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": {
            "cores": os.cpu_count(),
            "memory_bytes": os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"),
            "arch": platform.machine(),
        },
        "stacks": {},
    }
    with tempfile.TemporaryDirectory(prefix="deploy-bench-") as temp:
        sides = Sides(e2e, helm_bin, Path(temp))
        for stack in arguments.stack or STACKS:
            counts = overrides if stack == "prod" else ()
            print(f"  {stack}: ours", file=sys.stderr, flush=True)
            ours = sides.ours(stack, counts)
            print(f"  {stack}: peer", file=sys.stderr, flush=True)
            peer = sides.peer(stack, counts)
            results["stacks"][stack] = {"ours": ours, "peer": peer, "ratios": ratios(ours, peer)}
    print(table(results))
    arguments.json.parent.mkdir(parents=True, exist_ok=True)
    arguments.json.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwritten to {arguments.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
