"""Every stack through the real engine: `pulumi up` with the policy pack against a real
Kubernetes API, what the API server then holds, a second preview with no changes, the
production cap through the CLI, and what `pulumi destroy` keeps."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from support import NS, STACKS, evaluated, telemetries
from support.e2e import OTHER_TEAMS_NAMESPACES, Cli, Prerequisites, prepare_stack

TELEMETRY = "telemetries.telemetry.istio.io"


@dataclass(frozen=True)
class Deployed:
    stack: str
    project: Path
    cli: Cli


def _tear_down(cli: Cli, stack: str, project: Path) -> None:
    cli.pulumi("state", "unprotect", "--all", "--yes", cwd=project, check=False)
    cli.pulumi("destroy", "--yes", cwd=project, check=False)
    namespaces = sorted({"observability", "istio-system", *OTHER_TEAMS_NAMESPACES[stack]})
    cli.kubectl(
        "delete", "namespace", "--ignore-not-found", "--wait=true", *namespaces, check=False
    )


@pytest.fixture(scope="module", params=STACKS)
def deployed(
    request: pytest.FixtureRequest, cli: Cli, e2e: Prerequisites, tmp_path_factory: Any
) -> Iterator[Deployed]:
    stack = request.param
    project = tmp_path_factory.mktemp(f"project-{stack}") / "mesh-tracing"
    prepare_stack(cli, e2e, stack, project)
    try:
        cli.pulumi("up", "--yes", "--policy-pack", "policy", cwd=project)
        yield Deployed(stack, project, cli)
    finally:
        _tear_down(cli, stack, project)


def test_a_second_preview_has_no_changes(deployed: Deployed) -> None:
    deployed.cli.pulumi(
        "preview", "--expect-no-changes", "--policy-pack", "policy", cwd=deployed.project
    )


def test_each_telemetry_holds_its_exact_sampling_and_provider(deployed: Deployed) -> None:
    expected = {
        (t["metadata"]["namespace"], t["metadata"]["name"]): t["spec"]
        for t in telemetries(evaluated(deployed.stack))
    }
    live = deployed.cli.kubectl_json("get", TELEMETRY, "--all-namespaces")["items"]
    found = {(t["metadata"]["namespace"], t["metadata"]["name"]): t["spec"] for t in live}
    assert found == expected
    assert all(
        spec["tracing"][0]["providers"] == [{"name": "jaeger-otlp"}] for spec in found.values()
    )


def _available(cli: Cli, namespace: str, name: str) -> bool:
    deployment = cli.kubectl_json("get", "deployment", name, "-n", namespace)
    conditions = {c["type"]: c["status"] for c in deployment["status"].get("conditions", [])}
    return conditions.get("Available") == "True"


def test_workloads_are_available_and_services_have_endpoints(deployed: Deployed) -> None:
    config = evaluated(deployed.stack)
    charts = {
        r.inputs["chart"].rsplit("/", 1)[-1]
        for r in config.of_type("kubernetes:helm.sh/v3:Release")
    }
    wanted = [("observability", "jaeger"), ("observability", "kiali")]
    if "prometheus" in charts:
        wanted.append(("observability", "prometheus-server"))
    if "istiod" in charts:
        wanted.append(("istio-system", "istiod"))
    for namespace, name in wanted:
        assert _available(deployed.cli, namespace, name), f"{namespace}/{name} not available"
    for service in ("jaeger", "kiali"):
        slices = deployed.cli.kubectl_json(
            "get",
            "endpointslices",
            "-n",
            "observability",
            "-l",
            f"kubernetes.io/service-name={service}",
        )["items"]
        assert any(s.get("endpoints") for s in slices), f"service {service} has no endpoints"


def test_the_badger_claim_is_bound_where_badger_keeps_spans(deployed: Deployed) -> None:
    claims = deployed.cli.kubectl_json("get", "pvc", "-n", "observability")["items"]
    phases = {claim["metadata"]["name"]: claim["status"].get("phase") for claim in claims}
    if deployed.stack == "staging":
        assert phases["jaeger-badger"] == "Bound"
    else:
        assert "jaeger-badger" not in phases


def test_the_stack_output_mesh_config_is_what_istio_holds(deployed: Deployed) -> None:
    output = json.loads(
        deployed.cli.pulumi("stack", "output", "mesh_config", "--json", cwd=deployed.project).stdout
    )
    assert output["extensionProviders"] == [
        {
            "name": "jaeger-otlp",
            "opentelemetry": {"service": "jaeger.observability.svc.cluster.local", "port": 4317},
        }
    ]
    if deployed.stack == "dev":
        istio = deployed.cli.kubectl_json("get", "configmap", "istio", "-n", "istio-system")
        mesh = yaml.safe_load(istio["data"]["mesh"])
        assert mesh["extensionProviders"] == output["extensionProviders"]


def test_a_sampling_above_the_cap_fails_before_anything_registers(deployed: Deployed) -> None:
    if deployed.stack != "prod":
        pytest.skip("the cap is production's")
    cli, project = deployed.cli, deployed.project
    sampling = f"{NS}tracing.sampling"
    cli.pulumi("config", "set", "--path", sampling, "5.01", "--type", "float", cwd=project)
    try:
        preview = cli.pulumi("preview", "--policy-pack", "policy", cwd=project, check=False)
    finally:
        cli.pulumi("config", "set", "--path", sampling, "1", "--type", "int", cwd=project)
    assert preview.returncode != 0
    assert (
        f"{NS}tracing.sampling = 5.01: production stacks sample at most 5 percent"
        in preview.stdout + preview.stderr
    )
    assert " + " not in preview.stdout and "create" not in preview.stdout.split("Resources:")[-1]


POLICY_PROBE = """
import pulumi_kubernetes as k8s

k8s.apiextensions.CustomResource(
    "too-much",
    api_version="telemetry.istio.io/v1",
    kind="Telemetry",
    metadata={"name": "too-much", "namespace": "payments"},
    spec={"tracing": [{"providers": [{"name": "jaeger-otlp"}], "randomSamplingPercentage": 10}]},
)
"""


def test_the_policy_pack_refuses_another_programs_telemetry_above_the_cap(
    deployed: Deployed, tmp_path: Path
) -> None:
    if deployed.stack != "prod":
        pytest.skip("the cap is production's")
    probe = tmp_path / "probe"
    probe.mkdir()
    (probe / "Pulumi.yaml").write_text("name: sampling-probe\nruntime: python\n")
    (probe / "__main__.py").write_text(POLICY_PROBE)
    cli = deployed.cli
    cli.pulumi("stack", "init", "prod", "--secrets-provider", "passphrase", cwd=probe)
    result = cli.pulumi(
        "preview", "--policy-pack", str(deployed.project / "policy"), cwd=probe, check=False
    )
    assert result.returncode != 0
    assert "telemetry-sampling-cap" in result.stdout
    assert "mandatory" in result.stdout


def test_destroy_keeps_what_outlives_the_stack(deployed: Deployed) -> None:
    cli, project = deployed.cli, deployed.project
    if deployed.stack == "prod":
        refused = cli.pulumi("destroy", "--yes", cwd=project, check=False)
        assert refused.returncode != 0 and "protect" in refused.stdout + refused.stderr
        return
    cli.pulumi("destroy", "--yes", cwd=project)
    assert cli.kubectl_json("get", "namespace", "observability")["metadata"]["name"]
    left = cli.kubectl("get", TELEMETRY, "--all-namespaces", "-o", "name", check=False)
    # In dev the CRDs went with Istio's base chart, and every Telemetry with them.
    assert left.stdout.strip() == "" or "doesn't have a resource type" in left.stderr
    assert not cli.kubectl_json("get", "deployments", "-n", "observability")["items"]
    if deployed.stack == "staging":
        claim = cli.kubectl_json("get", "pvc", "jaeger-badger", "-n", "observability")
        assert claim["status"]["phase"] == "Bound"
