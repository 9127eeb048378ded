"""The component package as other languages consume it, through the real CLI: `pulumi package
add` of `provider/` into the YAML example and into a TypeScript project (a generated SDK,
installed with npm), then `pulumi preview` on the suite's cluster.

Needs current YAML and Node.js language hosts in the directory $MESH_TRACING_LANGUAGE_HOSTS
(default ~/.cache/mesh-tracing/hosts; the toolchain's are too old: its YAML host starts the
Python host with flags a current one refuses, its Node.js host is v3.68), node and npm on
PATH, and the package registries: `package add` upgrades pip, setuptools and wheel in the
provider's virtual environment from PyPI, and npm installs the TypeScript project's
dependencies. Without the hosts or node the tests skip.

The provider is a copy of `provider/` whose virtual environment is this suite's, less the Pulumi
packages the provider does not use (pulumi_random: the engine would want its plugin), so that
`package add` neither installs the checkout nor creates `provider/venv` in it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from mesh_tracing.provider import COMPONENTS
from mesh_tracing.version import __version__
from support import PROJECT_DIR
from support.e2e import Cli, Prerequisites

HOSTS_ENV = "MESH_TRACING_LANGUAGE_HOSTS"
DEFAULT_HOSTS_DIR = Path.home() / ".cache" / "mesh-tracing" / "hosts"
HOSTS = ("pulumi-language-yaml", "pulumi-language-nodejs")
YAML_EXAMPLE = PROJECT_DIR / "examples" / "yaml-consumer"
COMPONENT = "mesh-tracing:index:MeshObservability"
# The newest @pulumi/pulumi that runs on Node 20 (later ones need Node 22).
NODE_PACKAGES = {"@pulumi/pulumi": "3.248.0"}
NODE_DEV_PACKAGES = {"@types/node": "^20", "typescript": "5.9.3"}

# What the YAML example asks for, and what both the YAML and the TypeScript program must get.
SERVICE = "jaeger.observability.svc.cluster.local"
OUTPUTS = {
    "kialiUrl": "http://kiali.observability.svc.cluster.local:20001/kiali",
    "jaegerUiUrl": f"http://{SERVICE}:16686/jaeger",
    "otlpEndpoint": f"{SERVICE}:4317",
    "meshConfig": {
        "enableTracing": True,
        "extensionProviders": [
            {"name": "jaeger-otlp", "opentelemetry": {"service": SERVICE, "port": 4317}}
        ],
        "rootNamespace": "istio-system",
    },
}
CHILD_COMPONENTS = {
    "mesh-jaeger": "mesh-tracing:index:Jaeger",
    "mesh-istio": "mesh-tracing:index:IstioTracing",
    "mesh-prometheus": "mesh-tracing:index:Prometheus",
    "mesh-kiali": "mesh-tracing:index:Kiali",
}
TS_PROGRAM = """\
import * as meshTracing from "@pulumi/mesh-tracing";

// The YAML example's MeshObservability, from TypeScript.
const mesh = new meshTracing.MeshObservability("mesh", {
    environment: "staging",
    tracing: { sampling: 10, namespaces: { checkout: 25 } },
    istio: { install: false },
    jaeger: { storage: "badger", badger: { volumeSize: "20Gi" } },
    prometheus: { install: true },
    kiali: { auth: "token" },
    charts: { source: CHARTS },
});

export const kialiUrl = mesh.kialiUrl;
export const jaegerUiUrl = mesh.jaegerUiUrl;
export const otlpEndpoint = mesh.otlpEndpoint;
export const meshConfig = mesh.meshConfig;
"""
# Compiled only, never run: a line under @ts-expect-error that compiles fails tsc.
TS_TYPECHECK = """\
import * as pulumi from "@pulumi/pulumi";
import * as meshTracing from "@pulumi/mesh-tracing";

export function typed(): void {
    const args: meshTracing.MeshObservabilityArgs = {
        environment: "dev",
        tracing: { sampling: 1, namespaces: { shop: 100 } },
        jaeger: { storage: "badger", badger: { volumeSize: "1Gi" } },
    };
    const mesh = new meshTracing.MeshObservability("typed", args);
    const kiali: pulumi.Output<string> = mesh.kialiUrl;
    const sampling: pulumi.Output<{ [namespace: string]: number }> = mesh.traceStartSamplingPercent;
    const jaeger = new meshTracing.Jaeger("typed-jaeger", { environment: "dev", jaeger: {} });
    const port: pulumi.Output<number> = jaeger.otlpGrpcPort;
    new meshTracing.IstioTracing("typed-istio", {
        environment: "dev",
        tracing: { namespaces: { shop: 100 } },
        istio: { install: false, ownMeshDefault: false },
        otlpServiceHost: jaeger.otlpGrpcHost,
        otlpPort: port,
    });
    // @ts-expect-error sampling is a number
    new meshTracing.MeshObservability("bad-1", { environment: "dev", tracing: { sampling: "1" } });
    // @ts-expect-error tracing is required
    new meshTracing.MeshObservability("bad-2", { environment: "dev" });
    // @ts-expect-error unknown arguments are refused (a typo)
    new meshTracing.MeshObservability("bad-3", { environment: "dev", tracing: {}, tracin: {} });
    // @ts-expect-error settings are camelCase: volumeSize
    new meshTracing.Jaeger("bad-4", { environment: "dev", jaeger: { badger: { volume_size: "" }}});
    // @ts-expect-error outputs are typed
    const wrong: pulumi.Output<number> = mesh.kialiUrl;
    void [kiali, sampling, wrong];
}
"""


@pytest.fixture(scope="session")
def language_hosts() -> Path:
    """Before the suite's cluster is up: without the hosts these tests skip at once."""
    directory = Path(os.environ.get(HOSTS_ENV) or DEFAULT_HOSTS_DIR).expanduser()
    absent = [host for host in HOSTS if not os.access(directory / host, os.X_OK)]
    if absent:
        pytest.skip(
            f"SKIPPED: no current {', '.join(absent)} in {directory} (set {HOSTS_ENV} to a "
            "directory with current YAML and Node.js language hosts; the toolchain's are too "
            "old for `pulumi package add`, see the README)"
        )
    return directory


@pytest.fixture(scope="module")
def consumer_cli(language_hosts: Path, cli: Cli) -> Cli:
    """The suite's CLI, backend and cluster, with the current YAML and Node.js hosts first on
    PATH and previews streaming the engine's events as JSON lines."""
    consumer = Cli(cli.bin_dir, cli.kubeconfig, cli.state_dir)
    consumer.env["PATH"] = os.pathsep.join([str(language_hosts), consumer.env["PATH"]])
    consumer.env["PULUMI_ENABLE_STREAMING_JSON_PREVIEW"] = "true"
    return consumer


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`provider/` as a user's `pulumi package add` takes it, its virtual environment made of
    this suite's site-packages (the package is installed there, editable, from this checkout)."""
    root = tmp_path_factory.mktemp("component-package")
    site = root / "site-packages"
    site.mkdir()
    for entry in Path(sysconfig.get_paths()["purelib"]).iterdir():
        unused_pulumi_package = entry.name.startswith("pulumi_") and not entry.name.startswith(
            "pulumi_kubernetes"
        )
        if not unused_pulumi_package:
            (site / entry.name).symlink_to(entry)
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = f"python{sys.version_info.major}.{sys.version_info.minor}"
    pth = venv / "lib" / python / "site-packages" / "suite.pth"
    pth.write_text(f"import site; site.addsitedir({str(site)!r})\n")

    package = root / "provider"
    package.mkdir()
    shutil.copy(PROJECT_DIR / "provider" / "__main__.py", package / "__main__.py")
    manifest = yaml.safe_load((PROJECT_DIR / "provider" / "PulumiPlugin.yaml").read_text())
    assert manifest["runtime"] == "python", manifest
    manifest["runtime"] = {"name": "python", "options": {"virtualenv": str(venv)}}
    (package / "PulumiPlugin.yaml").write_text(yaml.safe_dump(manifest))
    # The checkout (`..` in provider/requirements.txt) is what the suite's environment holds.
    (package / "requirements.txt").write_text("mesh-tracing\n")
    return package


def package_add(cli: Cli, project: Path, provider: Path) -> str:
    result = cli.pulumi("package", "add", str(provider), cwd=project, check=False)
    output = "".join(
        line
        for line in (result.stdout + result.stderr).splitlines(keepends=True)
        if not line.startswith("Requirement already satisfied")
    )
    if "method Link not implemented" in output:
        pytest.fail(
            f"the YAML language host in ${HOSTS_ENV} does not implement Link, which `pulumi "
            "package add` calls (pulumi-yaml v1.25.0 predates it; a no-op Link is enough):\n"
            + output[-2000:]
        )
    assert result.returncode == 0, f"pulumi package add failed:\n{output[-6000:]}"
    assert "Added package mesh-tracing" in output, output[-2000:]
    return output


@dataclass
class Preview:
    """A `pulumi preview --json` as the engine streams it: each resource's last known state."""

    resources: dict[str, dict[str, Any]]
    summary: dict[str, Any]
    diagnostics: list[str]

    def named(self, name: str) -> dict[str, Any]:
        (found,) = [r for urn, r in self.resources.items() if urn.rsplit("::", 1)[-1] == name]
        return found

    def of_type(self, type_: str) -> list[dict[str, Any]]:
        return [r for r in self.resources.values() if r["type"] == type_]

    @property
    def stack_outputs(self) -> dict[str, Any]:
        (stack,) = self.of_type("pulumi:pulumi:Stack")
        return stack["outputs"]


def preview(cli: Cli, project: Path) -> Preview:
    result = cli.pulumi("preview", "--json", cwd=project, check=False)
    resources: dict[str, dict[str, Any]] = {}
    summary: dict[str, Any] = {}
    diagnostics: list[str] = []
    for line in result.stdout.splitlines():
        if not line.startswith("{"):
            continue
        event = json.loads(line)
        if "resOutputsEvent" in event:
            state = event["resOutputsEvent"]["metadata"]["new"]
            resources[state["urn"]] = state
        elif "diagnosticEvent" in event and event["diagnosticEvent"]["severity"] == "error":
            diagnostics.append(event["diagnosticEvent"]["message"])
        elif "summaryEvent" in event:
            summary = event["summaryEvent"]
    why = "\n".join(diagnostics) or result.stderr[-4000:]
    assert result.returncode == 0 and summary.get("result") == "succeeded", (
        f"pulumi preview exited {result.returncode}:\n{why}"
    )
    return Preview(resources, summary, diagnostics)


def assert_the_whole_tracing_stack(found: Preview, charts: Path) -> None:
    """The YAML example's MeshObservability: its children, its wiring and its outputs."""
    mesh = found.named("mesh")
    assert mesh["type"] == COMPONENT
    (stack,) = found.of_type("pulumi:pulumi:Stack")
    assert mesh["parent"] == stack["urn"]
    assert {name: found.named(name)["type"] for name in CHILD_COMPONENTS} == CHILD_COMPONENTS
    assert all(found.named(name)["parent"] == mesh["urn"] for name in CHILD_COMPONENTS)
    sampling = {
        t["inputs"]["metadata"]["namespace"]: t["inputs"]["spec"]["tracing"][0][
            "randomSamplingPercentage"
        ]
        for t in found.of_type("kubernetes:telemetry.istio.io/v1:Telemetry")
    }
    assert sampling == {"istio-system": 10, "checkout": 25}
    # badger.volumeSize reached the Python model as badger.volume_size.
    claim = found.named("mesh-jaeger-badger")["inputs"]
    assert claim["spec"]["resources"]["requests"]["storage"] == "20Gi"
    releases = found.of_type("kubernetes:helm.sh/v3:Release")
    assert sorted(Path(r["inputs"]["chart"]).name for r in releases) == [
        "jaeger",
        "kiali-server",
        "prometheus",
    ]
    assert all(Path(r["inputs"]["chart"]).parent == charts for r in releases)
    assert found.stack_outputs == OUTPUTS
    assert found.summary["resourceChanges"] == {"create": len(found.resources)}


def test_the_yaml_example_adds_the_package_and_previews(
    consumer_cli: Cli, e2e: Prerequisites, provider: Path, tmp_path: Path
) -> None:
    assert e2e.charts_dir is not None
    project = tmp_path / "yaml-consumer"
    shutil.copytree(YAML_EXAMPLE, project)
    document = yaml.safe_load((project / "Pulumi.yaml").read_text())
    # In the checkout the example names the repository's provider/; here `package add` names
    # the copy.
    (relative,) = document.pop("packages").values()
    assert (YAML_EXAMPLE / relative).resolve() == PROJECT_DIR / "provider"
    document["resources"]["mesh"]["properties"]["charts"] = {"source": str(e2e.charts_dir)}
    (project / "Pulumi.yaml").write_text(yaml.safe_dump(document, sort_keys=False))

    package_add(consumer_cli, project, provider)
    added = yaml.safe_load((project / "Pulumi.yaml").read_text())
    assert added["packages"] == {"mesh-tracing": str(provider)}
    declaration = yaml.safe_load(
        (project / "sdks" / "mesh-tracing" / f"mesh-tracing-{__version__}.yaml").read_text()
    )
    assert declaration["name"] == "mesh-tracing"
    assert declaration["version"] == __version__

    consumer_cli.pulumi("stack", "init", "dev", "--secrets-provider", "passphrase", cwd=project)
    assert_the_whole_tracing_stack(preview(consumer_cli, project), e2e.charts_dir)


@pytest.fixture(scope="module")
def typescript_project(
    consumer_cli: Cli, provider: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """A TypeScript project with nothing but the Pulumi SDK, given the package by `pulumi
    package add` (which generates the SDK and installs the project's dependencies with npm)."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("SKIPPED: node and npm are not on PATH (the TypeScript consumer needs them)")
    project = tmp_path_factory.mktemp("typescript-consumer")
    (project / "Pulumi.yaml").write_text(
        yaml.safe_dump(
            {
                "name": "mesh-tracing-ts-consumer",
                "runtime": {"name": "nodejs", "options": {"packagemanager": "npm"}},
                "description": "The whole tracing stack from TypeScript.",
            },
            sort_keys=False,
        )
    )
    package_json = {
        "name": "mesh-tracing-ts-consumer",
        "main": "index.ts",
        "private": True,
        "dependencies": NODE_PACKAGES,
        "devDependencies": NODE_DEV_PACKAGES,
    }
    (project / "package.json").write_text(json.dumps(package_json, indent=2))
    tsconfig = {
        "compilerOptions": {
            "strict": True,
            "target": "es2020",
            "module": "commonjs",
            "moduleResolution": "node",
            "skipLibCheck": True,
            "noEmit": True,
        },
        "files": ["index.ts", "typecheck.ts"],
    }
    (project / "tsconfig.json").write_text(json.dumps(tsconfig, indent=2))
    (project / "index.ts").write_text("export {};\n")
    (project / "typecheck.ts").write_text(TS_TYPECHECK)
    package_add(consumer_cli, project, provider)
    consumer_cli.pulumi("stack", "init", "dev", "--secrets-provider", "passphrase", cwd=project)
    return project


def test_typescript_gets_a_typed_sdk(typescript_project: Path, consumer_cli: Cli) -> None:
    project = typescript_project
    package_json = json.loads((project / "package.json").read_text())
    assert package_json["dependencies"]["@pulumi/mesh-tracing"] == "file:sdks/mesh-tracing"
    sdk = project / "sdks" / "mesh-tracing"
    sdk_json = json.loads((sdk / "package.json").read_text())
    assert sdk_json["pulumi"] == {"resource": True, "name": "mesh-tracing", "version": __version__}
    for component in COMPONENTS:
        name = component.__name__
        module = (sdk / f"{name[0].lower()}{name[1:]}.ts").read_text()
        assert f"__pulumiType = 'mesh-tracing:index:{name}'" in module
        assert f"export interface {name}Args" in module
    # typecheck.ts uses every component and refuses what the types must refuse.
    tsc = consumer_cli.run(
        str(project / "node_modules" / ".bin" / "tsc"), "-p", ".", cwd=project, check=False
    )
    assert tsc.returncode == 0, tsc.stdout + tsc.stderr


def test_a_typescript_program_previews_the_whole_tracing_stack(
    typescript_project: Path, consumer_cli: Cli, e2e: Prerequisites
) -> None:
    assert e2e.charts_dir is not None
    (typescript_project / "index.ts").write_text(
        TS_PROGRAM.replace("CHARTS", json.dumps(str(e2e.charts_dir)))
    )
    assert_the_whole_tracing_stack(preview(consumer_cli, typescript_project), e2e.charts_dir)


def test_integer_arguments_from_typescript(
    typescript_project: Path, consumer_cli: Cli, e2e: Prerequisites
) -> None:
    program = TS_PROGRAM.replace("CHARTS", json.dumps(str(e2e.charts_dir))).replace(
        'kiali: { auth: "token" }', 'kiali: { auth: "token", replicas: 2 }'
    )
    (typescript_project / "index.ts").write_text(program)
    found = preview(consumer_cli, typescript_project)
    values = found.named("mesh-kiali-release")["inputs"]["values"]
    assert values["deployment"]["replicas"] == 2


def test_components_wired_by_outputs_from_typescript(
    typescript_project: Path, consumer_cli: Cli, e2e: Prerequisites
) -> None:
    """The README's team example (Jaeger and IstioTracing on someone else's mesh), in
    TypeScript."""
    assert e2e.charts_dir is not None
    charts = json.dumps(str(e2e.charts_dir))
    (typescript_project / "index.ts").write_text(
        f"""\
import * as meshTracing from "@pulumi/mesh-tracing";

const jaeger = new meshTracing.Jaeger("shop-jaeger", {{
    environment: "dev",
    jaeger: {{ namespace: "shop-tracing", storage: "memory" }},
    charts: {{ source: {charts} }},
}});
const tracing = new meshTracing.IstioTracing("shop-telemetry", {{
    environment: "dev",
    tracing: {{ namespaces: {{ shop: 100 }}, providerName: "shop-jaeger" }},
    istio: {{ install: false, ownMeshDefault: false }},
    otlpServiceHost: jaeger.otlpGrpcHost,
    otlpPort: jaeger.otlpGrpcPort,
}});
export const meshConfig = tracing.meshConfig;
"""
    )
    found = preview(consumer_cli, typescript_project)
    (telemetry,) = found.of_type("kubernetes:telemetry.istio.io/v1:Telemetry")
    assert telemetry["inputs"]["metadata"]["namespace"] == "shop"
    assert telemetry["inputs"]["spec"]["tracing"][0] == {
        "providers": [{"name": "shop-jaeger"}],
        "randomSamplingPercentage": 100,
    }
    (provider,) = found.stack_outputs["meshConfig"]["extensionProviders"]
    assert provider == {
        "name": "shop-jaeger",
        "opentelemetry": {"service": "jaeger.shop-tracing.svc.cluster.local", "port": 4317},
    }
