"""The two ways other stacks consume the components: a Python project, and any Pulumi language
through the component package (here Pulumi YAML)."""

from __future__ import annotations

import json
import os
import runpy
import subprocess
import sys
from pathlib import Path

import yaml
from pulumi.provider.experimental.component import ComponentProvider

from mesh_tracing import MeshObservability
from mesh_tracing.plan.evaluate import evaluate, read_stack_file
from mesh_tracing.provider import COMPONENTS, PACKAGE_NAME
from support import PROJECT_DIR

PYTHON_CONSUMER = PROJECT_DIR / "examples" / "python-consumer"
YAML_CONSUMER = PROJECT_DIR / "examples" / "yaml-consumer"


def _evaluate_python_consumer():
    project = yaml.safe_load((PYTHON_CONSUMER / "Pulumi.yaml").read_text())["name"]
    return evaluate(
        "dev",
        read_stack_file(PYTHON_CONSUMER, "dev"),
        program=lambda: runpy.run_path(str(PYTHON_CONSUMER / "__main__.py")),
        project=project,
    )


def test_python_consumer_is_its_own_project() -> None:
    project = yaml.safe_load((PYTHON_CONSUMER / "Pulumi.yaml").read_text())
    assert project["name"] != "mesh-tracing"
    assert project["runtime"] == "python"


def test_python_consumer_evaluates_with_two_components() -> None:
    result = _evaluate_python_consumer()
    components = sorted(r.type for r in result.resources if r.type.startswith("mesh-tracing:"))
    assert components == ["mesh-tracing:index:IstioTracing", "mesh-tracing:index:Jaeger"]
    telemetry = [r for r in result.resources if r.type.endswith(":Telemetry")]
    assert sorted(t.inputs["metadata"]["namespace"] for t in telemetry) == ["cart", "shop"]
    for resource in telemetry:
        assert resource.inputs["spec"]["tracing"][0]["providers"] == [{"name": "shop-jaeger"}]
    assert not any(
        r.type == "kubernetes:helm.sh/v3:Release" and r.inputs["chart"] == "istiod"
        for r in result.resources
    )
    (provider,) = result.outputs["mesh_config_to_merge"]["extensionProviders"]
    assert provider == {
        "name": "shop-jaeger",
        "opentelemetry": {"service": "jaeger.shop-tracing.svc.cluster.local", "port": 4317},
    }
    assert result.outputs["trace_start_sampling_percent"] == {"shop": 100, "cart": 50}


def test_python_consumer_runs_from_a_fresh_install_of_the_package(tmp_path: Path) -> None:
    """Build the wheel, install it alone into a fresh directory and evaluate the consumer there:
    proof that the published package, not this checkout, carries everything it needs."""
    wheels = tmp_path / "wheels"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--wheel-dir",
            str(wheels),
            str(PROJECT_DIR),
        ],
        check=True,
    )
    (wheel,) = wheels.glob("mesh_tracing-*.whl")
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
    )
    script = (
        "import json, runpy, mesh_tracing\n"
        "from mesh_tracing.plan.evaluate import evaluate, read_stack_file\n"
        "from pathlib import Path\n"
        f"consumer = Path({str(PYTHON_CONSUMER)!r})\n"
        "result = evaluate('dev', read_stack_file(consumer, 'dev'), project='shop-tracing',\n"
        "    program=lambda: runpy.run_path(str(consumer / '__main__.py')))\n"
        "print(json.dumps({'package': mesh_tracing.__file__, 'resources': len(result.resources),\n"
        "    'outputs': sorted(result.outputs)}))\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, "PYTHONPATH": str(target)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    report = json.loads(completed.stdout.strip().splitlines()[-1])
    assert report["package"].startswith(str(target))
    assert report["resources"] == len(_evaluate_python_consumer().resources)
    assert report["outputs"] == [
        "jaeger_ui_url",
        "mesh_config_to_merge",
        "trace_start_sampling_percent",
    ]


def test_yaml_consumer_properties_construct_the_component() -> None:
    """The YAML example's properties, mapped by the component provider exactly as in a
    `construct` call from another language, build the component under mocks."""
    document = yaml.safe_load((YAML_CONSUMER / "Pulumi.yaml").read_text())
    assert document["runtime"] == "yaml"
    assert document["packages"] == {PACKAGE_NAME: "../../provider"}
    resource = document["resources"]["mesh"]
    assert resource["type"] == "mesh-tracing:index:MeshObservability"

    provider = ComponentProvider(COMPONENTS, PACKAGE_NAME)
    definition = provider._component_defs["MeshObservability"]
    args = provider.map_inputs(resource["properties"], definition)
    assert args["jaeger"]["badger"] == {"volume_size": "20Gi"}

    result = evaluate(
        "yaml", {}, program=lambda: MeshObservability("mesh", args), raise_errors=False
    )
    assert result.error is None
    claim = next(r for r in result.resources if r.type.endswith("PersistentVolumeClaim"))
    assert claim.inputs["spec"]["resources"]["requests"]["storage"] == "20Gi"
    for output in document["outputs"].values():
        name = output.removeprefix("${mesh.").removesuffix("}")
        assert name in definition.outputs
