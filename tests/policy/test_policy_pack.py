"""The policy pack as the engine runs it: a process, spoken to over the gRPC analyzer interface,
fed hand-built resources and the inputs our own stacks register."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from mesh_tracing.plan.evaluate import StackEvaluation, evaluate
from support import NS, evaluated, stack_config
from support.analyzer import running_pack

TELEMETRY = "kubernetes:telemetry.istio.io/v1:Telemetry"
RELEASE = "kubernetes:helm.sh/v3:Release"
UNKNOWN_STRING = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"  # the engine's "not known during preview"
MANDATORY = 1
ADVISORY = 0
POLICIES = {
    "telemetry-sampling-cap",
    "istio-legacy-sampling-cap",
    "sampling-unknown-at-preview",
    "kiali-no-anonymous-auth",
    "jaeger-durable-storage",
    "telemetry-provider-defined",
}
# Advisory by design: it only speaks for values the update will judge.
ADVISORY_POLICIES = {"sampling-unknown-at-preview"}


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
        expected = ADVISORY if policy.name in ADVISORY_POLICIES else MANDATORY
        assert policy.enforcementLevel == expected
        assert "productionStackPatterns" in policy.configSchema.properties
    sampling = next(policy for policy in info.policies if policy.name == "telemetry-sampling-cap")
    assert sampling.configSchema.properties["maxSamplingPercent"]["default"] == 5
    assert sampling.configSchema.properties["maxSamplingPercent"]["maximum"] == 5


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


def test_a_pack_not_told_its_stack_judges_it_as_production() -> None:
    # An old language host starts the pack without PULUMI_STACK: failing open would pass 100 %.
    with running_pack(None, {"mesh-tracing:environment": "dev"}) as pack:
        (diagnostic,) = pack.analyze(TELEMETRY, "mesh", _telemetry(100))
    assert diagnostic.policyName == "telemetry-sampling-cap"
    assert diagnostic.enforcementLevel == MANDATORY


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


# --- our stacks with the control plane installed, its charts from anywhere charts.source says ---


def _with_istio(stack: str, source: str | None) -> StackEvaluation:
    config = stack_config(stack)
    config[f"{NS}istio"] = {**config.get(f"{NS}istio", {}), "install": True}
    if source is not None:
        config[f"{NS}charts"] = {"source": source}
    return evaluate(stack, config)


@pytest.fixture
def local_charts(tmp_path: Path) -> str:
    """A prepared directory of every chart, istiod with the placeholder version of a source tree."""
    for chart in ("jaeger", "kiali-server", "prometheus", "base", "istiod"):
        (tmp_path / chart).mkdir()
        (tmp_path / chart / "Chart.yaml").write_text(
            f"apiVersion: v2\nname: {chart}\nversion: 1.0.0\n"
        )
    return str(tmp_path)


@pytest.mark.parametrize(
    "source",
    [None, "https://charts.example.com/mirror", "oci://registry.example.com/charts", "local"],
)
def test_our_prod_stack_installing_istio_passes_clean(
    prod_pack, update_pack, source: str | None, local_charts: str
) -> None:
    evaluation = _with_istio("prod", local_charts if source == "local" else source)
    istiod = next(
        r for r in evaluation.resources if r.type == RELEASE and "istiod" in r.inputs["chart"]
    )
    if source == "local":
        assert istiod.inputs["chart"] == f"{local_charts}/istiod"
    assert _analyze_all(prod_pack, evaluation) == []
    assert _analyze_all(update_pack, evaluation) == []


def _istiod(evaluation: StackEvaluation):
    return next(
        r
        for r in evaluation.resources
        if r.type == RELEASE and r.inputs["chart"].endswith("istiod")
    )


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        (lambda i: i["values"].update(profile="demo"), "values.profile"),
        (lambda i: i["values"].update(traceSampling=100), "values.traceSampling = 100"),
        (
            lambda i: i.update(
                valueYamlFiles=[
                    {
                        "4dabf18193072939515e22adb298388d": "c44067f5952c0a294b673a41bacd8c17",
                        "path": "prod-values.yaml",
                    }
                ]
            ),
            "valueYamlFiles[0]",
        ),
    ],
    ids=["profile", "trace-sampling", "values-file"],
)
def test_our_local_istiod_chart_fails_closed_when_sampling_is_not_provable(
    prod_pack, local_charts: str, change, fragment: str
) -> None:
    evaluation = copy.deepcopy(_with_istio("prod", local_charts))
    istiod = _istiod(evaluation)
    change(istiod.inputs)
    diagnostics = _analyze_all(prod_pack, evaluation)
    assert [d.policyName for d in diagnostics] == ["istio-legacy-sampling-cap"]
    assert diagnostics[0].urn == istiod.urn
    assert fragment in diagnostics[0].message
    assert diagnostics[0].enforcementLevel == MANDATORY


@pytest.mark.parametrize("stack", ["dev", "staging"])
def test_our_other_stacks_may_sample_anything_however_istio_is_installed(
    stack: str, local_charts: str
) -> None:
    evaluation = copy.deepcopy(_with_istio(stack, local_charts))
    _istiod(evaluation).inputs["values"].update(profile="demo")
    with running_pack(stack, {f"{NS}environment": stack}) as analyzer:
        assert _analyze_all(analyzer, evaluation) == []


def test_our_prod_stack_passes_clean_at_update(update_pack) -> None:
    assert _analyze_all(update_pack, evaluated("prod")) == []


def test_our_prod_stack_previewed_with_values_not_known_yet_passes_clean(prod_pack) -> None:
    """At preview the signing key (from a RandomPassword) is unknown: no sampling setting waits
    on it, so not even an advisory is given."""
    preview = copy.deepcopy(evaluated("prod"))
    (secret,) = [r for r in preview.resources if r.type == "kubernetes:core/v1:Secret"]
    secret.inputs["stringData"] = {key: UNKNOWN_STRING for key in secret.inputs["stringData"]}
    kiali = next(r for r in preview.resources if r.type == RELEASE and "kiali" in r.inputs["chart"])
    kiali.inputs["values"]["login_token"]["signing_key"] = UNKNOWN_STRING
    assert _analyze_all(prod_pack, preview) == []
