"""The policy pack as the engine runs it: a process, spoken to over the gRPC analyzer interface,
fed hand-built resources and the inputs our own stacks register."""

from __future__ import annotations

import copy

import pytest

from mesh_tracing.plan.evaluate import StackEvaluation
from support import NS, evaluated
from support.analyzer import running_pack

TELEMETRY = "kubernetes:telemetry.istio.io/v1:Telemetry"
MANDATORY = 1
POLICIES = {
    "telemetry-sampling-cap",
    "istio-legacy-sampling-cap",
    "kiali-no-anonymous-auth",
    "jaeger-durable-storage",
    "telemetry-provider-defined",
}


def _telemetry(percentage: float | None, api_version: str = "telemetry.istio.io/v1") -> dict:
    rule: dict = {"providers": [{"name": "jaeger-otlp"}]}
    if percentage is not None:
        rule["randomSamplingPercentage"] = percentage
    return {"apiVersion": api_version, "kind": "Telemetry", "spec": {"tracing": [rule]}}


@pytest.fixture(scope="module")
def prod_pack():
    with running_pack("prod", {f"{NS}environment": "prod"}) as analyzer:
        yield analyzer


@pytest.fixture(scope="module")
def renamed_prod_pack():
    """A production stack by name whose config does not say so."""
    with running_pack("prod-eu", {}) as analyzer:
        yield analyzer


@pytest.fixture(scope="module")
def dev_pack():
    with running_pack("dev", {f"{NS}environment": "dev"}) as analyzer:
        yield analyzer


def test_pack_describes_its_policies_and_config(prod_pack) -> None:
    info = prod_pack.info()
    assert info.name == "mesh-tracing"
    assert {policy.name for policy in info.policies} == POLICIES
    for policy in info.policies:
        assert policy.enforcementLevel == MANDATORY
        assert "productionStackPatterns" in policy.configSchema.properties
    sampling = next(policy for policy in info.policies if policy.name == "telemetry-sampling-cap")
    assert sampling.configSchema.properties["maxSamplingPercent"]["default"] == 5


def test_production_telemetry_at_five_is_accepted(prod_pack) -> None:
    assert prod_pack.analyze(TELEMETRY, "mesh", _telemetry(5)) == []


def test_production_telemetry_at_five_point_zero_one_is_rejected(prod_pack) -> None:
    (diagnostic,) = prod_pack.analyze(TELEMETRY, "mesh", _telemetry(5.01))
    assert diagnostic.policyName == "telemetry-sampling-cap"
    assert diagnostic.enforcementLevel == MANDATORY
    assert "Telemetry 'mesh'" in diagnostic.message
    assert "spec.tracing[0].randomSamplingPercentage = 5.01" in diagnostic.message
    assert "cap of 5 percent" in diagnostic.message


def test_production_telemetry_without_percentage_is_rejected(prod_pack) -> None:
    (diagnostic,) = prod_pack.analyze(TELEMETRY, "mesh", _telemetry(None))
    assert "is missing" in diagnostic.message


def test_v1alpha1_telemetry_is_judged_too(prod_pack) -> None:
    diagnostics = prod_pack.analyze(
        "kubernetes:telemetry.istio.io/v1alpha1:Telemetry",
        "old",
        _telemetry(20, "telemetry.istio.io/v1alpha1"),
    )
    assert [d.policyName for d in diagnostics] == ["telemetry-sampling-cap"]


def test_stack_name_alone_makes_production(renamed_prod_pack) -> None:
    (diagnostic,) = renamed_prod_pack.analyze(TELEMETRY, "mesh", _telemetry(10))
    assert diagnostic.policyName == "telemetry-sampling-cap"


def test_development_may_sample_everything(dev_pack) -> None:
    assert dev_pack.analyze(TELEMETRY, "mesh", _telemetry(100)) == []


def _registered(evaluation: StackEvaluation):
    return [
        (resource.type, resource.name, resource.urn, resource.inputs, resource.parent)
        for resource in evaluation.resources
    ]


def _analyze_all(analyzer, evaluation: StackEvaluation) -> list:
    diagnostics = []
    for resource_type, name, urn, inputs, _ in _registered(evaluation):
        diagnostics.extend(analyzer.analyze(resource_type, name, inputs, urn))
    diagnostics.extend(analyzer.analyze_stack(_registered(evaluation)))
    return diagnostics


@pytest.mark.parametrize("stack", ["dev", "staging"])
def test_our_non_production_stacks_pass(stack: str) -> None:
    with running_pack(stack, {f"{NS}environment": stack}) as analyzer:
        assert _analyze_all(analyzer, evaluated(stack)) == []


def test_our_prod_stack_passes_clean(prod_pack) -> None:
    assert _analyze_all(prod_pack, evaluated("prod")) == []


def test_our_prod_stack_with_raised_sampling_fails(prod_pack) -> None:
    raised = copy.deepcopy(evaluated("prod"))
    (telemetry,) = [
        resource
        for resource in raised.resources
        if resource.type == TELEMETRY and resource.inputs["metadata"]["namespace"] == "payments"
    ]
    telemetry.inputs["spec"]["tracing"][0]["randomSamplingPercentage"] = 7.5
    diagnostics = _analyze_all(prod_pack, raised)
    assert [d.policyName for d in diagnostics] == ["telemetry-sampling-cap"]
    assert diagnostics[0].urn == telemetry.urn


def test_dev_stack_deployed_as_production_fails_every_resource_policy(prod_pack) -> None:
    policies = {d.policyName for d in _analyze_all(prod_pack, evaluated("dev"))}
    assert policies == {
        "telemetry-sampling-cap",
        "kiali-no-anonymous-auth",
        "jaeger-durable-storage",
    }


def test_stack_policy_finds_telemetry_with_an_undefined_provider(prod_pack) -> None:
    resources = [
        (TELEMETRY, "mesh", "urn:pulumi:prod::p::" + TELEMETRY + "::mesh", _telemetry(1), None)
    ]
    (diagnostic,) = prod_pack.analyze_stack(resources)
    assert diagnostic.policyName == "telemetry-provider-defined"
    assert "jaeger-otlp" in diagnostic.message


def test_configured_cap_and_patterns_apply() -> None:
    with running_pack("live-eu", {}) as analyzer:
        assert analyzer.analyze(TELEMETRY, "mesh", _telemetry(50)) == []
        analyzer.configure(
            {
                "telemetry-sampling-cap": {
                    "maxSamplingPercent": 1,
                    "productionStackPatterns": ["live-*"],
                }
            }
        )
        (diagnostic,) = analyzer.analyze(TELEMETRY, "mesh", _telemetry(2))
        assert "cap of 1 percent" in diagnostic.message
        assert diagnostic.enforcementLevel == MANDATORY
