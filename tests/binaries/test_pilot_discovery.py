"""The real pilot-discovery (istiod's program, Istio release-1.31, see scripts/toolchain) reads the
mesh config each stack gives istiod (the istiod chart's `meshConfig`, or the exported
`mesh_config` to merge) through its own loader: `mesh.ApplyMeshConfig`, which fills Istio's
defaults, merges the extension providers and runs `ValidateMeshConfig`, whose findings on
extension providers it logs as warnings ("found invalid extension provider") rather than
failing. It then prints the mesh config it will serve, which the tests read back.

First with no cluster (`--registries Mock --configDir` with our Istio resources): enough to load
the mesh config, after which it stops. istiod's loader is lenient: an unknown field in the mesh
config is dropped, not refused, which is why the tests compare what it printed with what we set.

Then against the local control plane's API server, where it runs as istiod does: each stack's
resources applied as the stack applies them, its push context (`/debug/telemetryz`) holds every
Telemetry of ours exactly, and follows the cluster when one is deleted."""

from __future__ import annotations

import json
import os
import re
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from support import STACKS, evaluated, helm_release
from support.binaries import eventually, free_port, started, toolchain_programs
from support.e2e import Cli, LocalCluster, charts_dir

BIN, WHY_NOT = toolchain_programs("pilot-discovery")
if BIN is None:
    pytest.skip(WHY_NOT, allow_module_level=True)
PILOT_DISCOVERY = BIN / "pilot-discovery"

# What Istio's default mesh config declares (pkg/config/mesh/mesh.go, DefaultMeshConfig).
ISTIO_BUILT_IN_PROVIDERS = {"prometheus", "stackdriver", "envoy"}
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")


def mesh_config(stack: str) -> dict[str, Any]:
    evaluation = evaluated(stack)
    if evaluation.outputs["istio_installed"]:
        return helm_release(evaluation, "istiod")["values"]["meshConfig"]
    return evaluation.outputs["mesh_config"]


def istio_resources(stack: str) -> list[dict[str, Any]]:
    return [dict(r.inputs) for r in evaluated(stack).resources if ".istio.io/" in r.type]


def load_mesh(mesh: dict[str, Any], resources: list[dict[str, Any]], tmp_path: Path) -> str:
    """pilot-discovery's output for this mesh config (it exits once it needs a cluster)."""
    config_dir = tmp_path / "config"
    config_dir.mkdir()
    (config_dir / "resources.yaml").write_text(yaml.safe_dump_all(resources))
    mesh_file = tmp_path / "mesh.yaml"
    mesh_file.write_text(yaml.safe_dump(mesh))
    result = subprocess.run(
        [
            str(PILOT_DISCOVERY),
            "discovery",
            "--registries=Mock",
            f"--configDir={config_dir}",
            f"--meshConfig={mesh_file}",
            f"--networksConfig={tmp_path / 'no-mesh-networks'}",
            "--httpAddr=127.0.0.1:0",
            "--grpcAddr=127.0.0.1:0",
            "--secureGRPCAddr=",
            "--monitoringAddr=127.0.0.1:0",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        check=False,
    )
    return result.stdout + result.stderr


def served_mesh(output: str) -> dict[str, Any]:
    """The mesh config pilot-discovery logs as `mesh configuration: <yaml>`."""
    lines = output.splitlines()
    for index, line in enumerate(lines):
        if "\tmesh configuration: " in line:
            block = [line.split("\tmesh configuration: ", 1)[1]]
            for following in lines[index + 1 :]:
                if LOG_LINE.match(following):
                    break
                block.append(following)
            return yaml.safe_load("\n".join(block))
    raise AssertionError(f"pilot-discovery printed no mesh configuration:\n{output[-3000:]}")


@pytest.mark.parametrize("stack", STACKS)
def test_pilot_discovery_loads_our_mesh_config_as_we_meant_it(stack: str, tmp_path: Path) -> None:
    ours = mesh_config(stack)
    output = load_mesh(ours, istio_resources(stack), tmp_path)
    assert f"initializing mesh configuration {tmp_path / 'mesh.yaml'}" in output, output[-3000:]
    assert "invalid extension provider" not in output, output[-3000:]
    assert "warnings occurred during mesh validation" not in output, output[-3000:]
    served = served_mesh(output)
    # Every provider we declare is served exactly as we declared it, beside Istio's built-in
    # ones (which no Telemetry of ours names).
    by_name = {provider["name"]: provider for provider in served["extensionProviders"]}
    for provider in ours["extensionProviders"]:
        assert by_name.pop(provider["name"]) == provider
    assert set(by_name) <= ISTIO_BUILT_IN_PROVIDERS, by_name
    assert served["enableTracing"] is ours["enableTracing"] is True
    if "rootNamespace" in ours:
        assert served["rootNamespace"] == ours["rootNamespace"]
    # No default provider: every Telemetry names its own (see the README's notes).
    assert "defaultProviders" not in served or "tracing" not in served["defaultProviders"]
    # No sampling from the mesh config's proxy defaults: Telemetry is the only knob.
    assert "sampling" not in (served.get("defaultConfig") or {}).get("tracing", {})


def test_pilot_discovery_reports_a_provider_it_cannot_use(tmp_path: Path) -> None:
    """The check above means something: a provider without a service and with an impossible port
    is reported (as a warning, istiod keeps running)."""
    broken = yaml.safe_load(yaml.safe_dump(mesh_config("prod")))
    broken["extensionProviders"][0]["opentelemetry"] = {"port": 99999}
    output = load_mesh(broken, [], tmp_path)
    assert "invalid extension provider jaeger-otlp: port number 99999" in output, output[-3000:]
    assert "invalid extension provider jaeger-otlp: service must not be empty" in output


# --- against a real API server ------------------------------------------------------------------


@pytest.fixture(scope="module")
def api_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cli]:
    """The local control plane with Istio's CRDs (as the prepared base chart ships them), and
    kubectl on it."""

    bin_dir, why_not = toolchain_programs("etcd,kwok,kube")
    charts, no_charts = charts_dir()
    if bin_dir is None or charts is None:
        pytest.skip(why_not or f"SKIPPED: pilot-discovery on a cluster: {no_charts}")
    cluster = LocalCluster("mesh-tracing-istiod", tmp_path_factory.mktemp("cluster"), bin_dir)
    cli = Cli(bin_dir, cluster.up(), tmp_path_factory.mktemp("state"))
    try:
        cli.kubectl(
            "apply", "--server-side", "-f", str(charts / "base" / "files" / "crd-all.gen.yaml")
        )
        yield cli
    finally:
        cluster.down()


def _telemetryz(http_port: int, process: Any) -> dict[str, Any]:
    """istiod's push context: every Telemetry it accepted, by namespace."""

    def served() -> dict[str, Any]:
        if process.popen.poll() is not None:
            pytest.fail(f"pilot-discovery exited:\n{process.output()[-3000:]}")
        url = f"http://127.0.0.1:{http_port}/debug/telemetryz"
        with urllib.request.urlopen(url, timeout=2) as response:
            telemetries = json.loads(response.read())["telemetries"]
        # Null until istiod has built its first push context from the synced caches.
        assert telemetries is not None, "no push context yet"
        return telemetries

    return eventually(served, 60, (AssertionError, OSError), 0.5)


def _specs(telemetries: dict[str, Any]) -> dict[tuple[str, str], Any]:
    return {
        (namespace, item["name"]): item["spec"]
        for namespace, items in (telemetries["namespace_to_telemetries"] or {}).items()
        for item in items
    }


@pytest.mark.parametrize("stack", STACKS)
def test_istiod_on_a_cluster_takes_our_telemetry_as_we_wrote_it(
    stack: str, api_server: Cli, tmp_path: Path
) -> None:
    """pilot-discovery against the API server, with our mesh config and our resources applied
    as the stack applies them: its push context (`/debug/telemetryz`) holds each of our
    Telemetry specs exactly, under the root namespace we set; and it follows the cluster (a
    Telemetry deleted while it runs leaves its push context)."""
    cli = api_server
    resources = istio_resources(stack)
    namespaces = sorted({r["metadata"]["namespace"] for r in resources} | {"istio-system"})
    cli.apply(
        [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n}} for n in namespaces],
        tmp_path / "namespaces.yaml",
    )
    manifest = tmp_path / "resources.yaml"
    cli.apply(resources, manifest)
    mesh_file = tmp_path / "mesh.yaml"
    mesh_file.write_text(yaml.safe_dump(mesh_config(stack)))
    http_port = free_port()
    argv = [
        str(PILOT_DISCOVERY),
        "discovery",
        f"--kubeconfig={cli.kubeconfig}",
        f"--meshConfig={mesh_file}",
        f"--networksConfig={tmp_path / 'no-mesh-networks'}",
        f"--httpAddr=127.0.0.1:{http_port}",
        f"--grpcAddr=127.0.0.1:{free_port()}",
        "--secureGRPCAddr=",
        f"--monitoringAddr=127.0.0.1:{free_port()}",
        "--httpsAddr=",
    ]
    env = {**os.environ, "POD_NAMESPACE": "istio-system", "POD_NAME": "istiod-test"}
    try:
        with started(argv, tmp_path / "pilot-discovery.log", env=env, cwd=tmp_path) as istiod:
            ours = {
                (r["metadata"]["namespace"], r["metadata"]["name"]): r["spec"]
                for r in resources
                if r["kind"] == "Telemetry"
            }

            def all_of_ours() -> dict[str, Any]:
                served = _telemetryz(http_port, istiod)
                assert _specs(served) == ours
                return served

            served = eventually(all_of_ours, 30, interval=0.5)
            assert served["root_namespace"] == mesh_config(stack).get(
                "rootNamespace", "istio-system"
            )
            gone = sorted(ours)[0]
            cli.kubectl("delete", "telemetry", "-n", gone[0], gone[1])

            def gone_from_istiod() -> None:
                assert gone not in _specs(_telemetryz(http_port, istiod)), "istiod kept it"

            eventually(gone_from_istiod, 30, interval=0.5)
    finally:
        cli.kubectl("delete", "--ignore-not-found", "-f", str(manifest))
