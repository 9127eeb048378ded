"""The real istioctl (Istio release-1.31, see scripts/toolchain) on every Istio resource our
stacks emit and on the mesh config they set or export, taken from the evaluated plan.

- `istioctl validate -f`: each Telemetry and the prod gateway's EnvoyFilter pass Istio's own
  validation. For an EnvoyFilter that includes decoding the patch's typed Envoy config
  (HttpConnectionManager, and in it the HeaderMutation extension) with Envoy's protos, and
  rejecting unknown fields. istioctl reports a patch that fails to decode as a *warning* and
  still exits 0, so the tests read the output, not only the exit status.
- `istioctl analyze -A --use-kube=false --meshConfigFile`: our resources with our mesh config
  raise no analyzer message but the warning every EnvoyFilter gets.

What this does not prove: analyze does not check that a Telemetry's provider names one of the
mesh config's extensionProviders, and istiod reads the mesh config leniently (unknown fields are
dropped, see test_pilot_discovery.py)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from support import STACKS, evaluated, helm_release
from support.binaries import toolchain_programs

BIN, WHY_NOT = toolchain_programs("istioctl")
if BIN is None:
    pytest.skip(WHY_NOT, allow_module_level=True)
ISTIOCTL = BIN / "istioctl"

# The one warning istioctl gives every EnvoyFilter, whatever it holds.
ENVOYFILTER_WARNING = "EnvoyFilter exposes internal implementation details"


def istio_resources(stack: str) -> list[dict[str, Any]]:
    return [
        dict(resource.inputs)
        for resource in evaluated(stack).resources
        if ".istio.io/" in resource.type
    ]


def mesh_config(stack: str) -> dict[str, Any]:
    """What istiod gets: the istiod chart's `meshConfig` where the stack installs Istio, else
    the `mesh_config` output the README says to merge."""
    evaluation = evaluated(stack)
    if evaluation.outputs["istio_installed"]:
        return helm_release(evaluation, "istiod")["values"]["meshConfig"]
    return evaluation.outputs["mesh_config"]


def istioctl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ISTIOCTL), *args], capture_output=True, text=True, timeout=120, check=False
    )


def validate(documents: list[dict[str, Any]], tmp_path: Path) -> tuple[int, list[str]]:
    """istioctl validate's exit status and its messages (warnings and errors), one per line."""
    path = tmp_path / "resources.yaml"
    path.write_text(yaml.safe_dump_all(documents))
    result = istioctl("validate", "-f", str(path))
    messages = [
        line.strip().removeprefix("* ")
        for line in (result.stdout + result.stderr).splitlines()
        if line.strip().startswith("*")
    ]
    return result.returncode, messages


@pytest.mark.parametrize("stack", STACKS)
def test_istioctl_validate_accepts_every_istio_resource_we_emit(stack: str, tmp_path: Path) -> None:
    documents = istio_resources(stack)
    kinds = sorted({document["kind"] for document in documents})
    assert "Telemetry" in kinds
    if stack == "prod":
        assert kinds == ["EnvoyFilter", "Telemetry"]
    status, messages = validate(documents, tmp_path)
    assert status == 0, messages
    unexpected = [message for message in messages if ENVOYFILTER_WARNING not in message]
    assert unexpected == []


def _envoyfilter(stack: str) -> dict[str, Any]:
    (envoyfilter,) = [d for d in istio_resources(stack) if d["kind"] == "EnvoyFilter"]
    return envoyfilter


def test_a_patch_that_does_not_decode_is_only_a_warning(tmp_path: Path) -> None:
    """Why the test above reads the messages: a misspelt field in the typed Envoy config of our
    EnvoyFilter still exits 0."""
    broken = yaml.safe_load(
        yaml.safe_dump(_envoyfilter("prod")).replace("- remove: b3\n", "- remov: b3\n")
    )
    status, messages = validate([broken], tmp_path)
    assert status == 0
    assert any('unknown field "remov"' in message for message in messages), messages


def test_istioctl_validate_rejects_an_out_of_range_percentage(tmp_path: Path) -> None:
    (telemetry, *_) = [d for d in istio_resources("dev") if d["kind"] == "Telemetry"]
    broken = yaml.safe_load(yaml.safe_dump(telemetry))
    broken["spec"]["tracing"][0]["randomSamplingPercentage"] = 100.5
    status, messages = validate([broken], tmp_path)
    assert status != 0
    assert any("randomSamplingPercentage must be in range" in m for m in messages), messages


def analyze(stack: str, documents: list[dict[str, Any]], tmp_path: Path) -> tuple[int, list[str]]:
    """`istioctl analyze` of every namespace (`-A`: without it only `default` is analyzed, which
    holds none of our resources) with the stack's mesh config; its exit status and messages."""
    mesh = tmp_path / "mesh.yaml"
    mesh.write_text(yaml.safe_dump(mesh_config(stack)))
    resources = tmp_path / "resources.yaml"
    resources.write_text(yaml.safe_dump_all(documents))
    result = istioctl(
        "analyze", "-A", "--use-kube=false", "--meshConfigFile", str(mesh), str(resources)
    )
    messages = [
        line
        for line in (result.stdout + result.stderr).splitlines()
        if line.startswith(("Error [", "Warning [", "Info ["))
    ]
    return result.returncode, messages


@pytest.mark.parametrize("stack", STACKS)
def test_istioctl_analyze_finds_nothing_with_our_mesh_config(stack: str, tmp_path: Path) -> None:
    status, messages = analyze(stack, istio_resources(stack), tmp_path)
    assert status == 0, messages
    # The only message: schema validation's warning that every EnvoyFilter gets (IST0133).
    assert [m for m in messages if ENVOYFILTER_WARNING not in m] == []
    assert len(messages) == (1 if stack == "prod" else 0), messages


def test_istioctl_analyze_reads_our_telemetry_in_its_namespace(tmp_path: Path) -> None:
    """The check above means something: a second selector-less Telemetry beside ours in
    `payments` is an error (IST0160), so analyze did read our resources in their namespaces."""
    documents = istio_resources("prod")
    (ours,) = [
        d
        for d in documents
        if d["kind"] == "Telemetry" and d["metadata"]["namespace"] == "payments"
    ]
    another = yaml.safe_load(yaml.safe_dump(ours))
    another["metadata"]["name"] = "another-team"
    status, messages = analyze("prod", [*documents, another], tmp_path)
    assert status != 0
    assert any("IST0160" in m and "payments/mesh-tracing-sampling" in m for m in messages)
