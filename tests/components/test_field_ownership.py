"""Server-side apply refuses to take a field back from another field manager. Hand edits of the
sampling objects are undone by the next `pulumi up --refresh` only because every Telemetry and
EnvoyFilter forces its apply (else: a conflict with `kubectl-patch`); Kiali's signing key, drawn
afresh by every run, is created over the one an interrupted run left unrecorded only because it
forces too (else: a conflict with that run's field manager). tests/e2e/test_faults.py proves
both on a real API server."""

from __future__ import annotations

import pytest

from support import STACKS, evaluated

SAMPLING_TYPES = (
    "kubernetes:telemetry.istio.io/v1:Telemetry",
    "kubernetes:networking.istio.io/v1alpha3:EnvoyFilter",
)


@pytest.mark.parametrize("stack", STACKS)
def test_every_sampling_object_forces_its_apply(stack: str) -> None:
    owned = [r for r in evaluated(stack).resources if r.type in SAMPLING_TYPES]
    assert owned
    for resource in owned:
        annotations = resource.inputs["metadata"].get("annotations", {})
        assert annotations == {"pulumi.com/patchForce": "true"}, resource.name


@pytest.mark.parametrize("stack", STACKS)
def test_kialis_signing_key_forces_its_create(stack: str) -> None:
    secret = evaluated(stack).named("mesh-kiali-signing-key")
    assert secret.inputs["metadata"]["annotations"] == {"pulumi.com/patchForce": "true"}
    # ... and still keeps the first key afterwards.
    assert set(secret.ignore_changes) >= {"stringData", "data"}


def test_nothing_else_forces_its_apply() -> None:
    for stack in STACKS:
        for resource in evaluated(stack).resources:
            if resource.type in SAMPLING_TYPES or not resource.custom:
                continue
            if resource.name == "mesh-kiali-signing-key":
                continue
            metadata = resource.inputs.get("metadata") or {}
            assert "pulumi.com/patchForce" not in (metadata.get("annotations") or {}), resource.name
