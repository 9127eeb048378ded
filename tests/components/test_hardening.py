"""Data safety, least privilege and secret handling of the stacks as the program builds them."""

from __future__ import annotations

import json

import pytest

from mesh_tracing.plan.document import diff_plans, plan_document
from mesh_tracing.plan.evaluate import evaluate
from support import NS, STACKS, evaluated, helm_release, stack_config

TELEMETRY = "kubernetes:telemetry.istio.io/v1:Telemetry"
WORKLOAD_CHARTS = ("jaeger", "kiali-server", "prometheus", "istiod")


def _plan(stack: str, config: dict) -> dict:
    return plan_document(evaluate(stack, config), "mesh-tracing")


@pytest.mark.parametrize("stack", STACKS)
def test_sampling_and_overrides_never_touch_the_backends(stack: str) -> None:
    """A replacement needs a changed name, parent or input: none of those move for anything but
    Telemetry when sampling changes or a namespace override is added."""
    config = stack_config(stack)
    before = _plan(stack, config)
    tracing = dict(config[f"{NS}tracing"])
    tracing["sampling"] = tracing["sampling"] / 2
    tracing["namespaces"] = {**tracing.get("namespaces", {}), "new-team": 0.5}
    config[f"{NS}tracing"] = tracing
    diff = diff_plans(before, _plan(stack, config))
    assert [r["type"] for r in diff.added] == [TELEMETRY]
    assert diff.removed == []
    assert {change.key.split("::")[0] for change in diff.changed} == {TELEMETRY}


def test_persistent_trace_storage_outlives_the_stack() -> None:
    (claim,) = evaluated("staging").of_type("kubernetes:core/v1:PersistentVolumeClaim")
    assert claim.retain_on_delete
    assert not claim.protect, "staging may be torn down on purpose; its volume is kept"


@pytest.mark.parametrize("stack", STACKS)
def test_namespaces_outlive_the_stack_and_prod_ones_are_protected(stack: str) -> None:
    namespaces = evaluated(stack).of_type("kubernetes:core/v1:Namespace")
    assert namespaces
    for namespace in namespaces:
        assert namespace.retain_on_delete
        assert namespace.protect is (stack == "prod")


@pytest.mark.parametrize("stack", STACKS)
def test_every_workload_has_requests_and_limits(stack: str) -> None:
    evaluation = evaluated(stack)
    charts = {r.inputs["chart"] for r in evaluation.of_type("kubernetes:helm.sh/v3:Release")}
    found = []
    for chart in sorted(charts & set(WORKLOAD_CHARTS)):
        values = helm_release(evaluation, chart)["values"]
        resources = {
            "jaeger": lambda v: [v["jaeger"]["resources"]],
            "kiali-server": lambda v: [v["deployment"]["resources"]],
            "prometheus": lambda v: [
                v["server"]["resources"],
                v["configmapReload"]["prometheus"]["resources"],
            ],
            "istiod": lambda v: [v["resources"]],
        }[chart](values)
        for block in resources:
            assert block["requests"]["cpu"] and block["requests"]["memory"]
            assert block["limits"]["memory"]
        found.append(chart)
    assert {"jaeger", "kiali-server"} <= set(found)


@pytest.mark.parametrize("stack", STACKS)
def test_replicated_workloads_have_disruption_budgets(stack: str) -> None:
    evaluation = evaluated(stack)
    jaeger = helm_release(evaluation, "jaeger")["values"]["jaeger"]
    budgets = evaluation.of_type("kubernetes:policy/v1:PodDisruptionBudget")
    assert (len(budgets) == 1) is (jaeger["replicas"] > 1)
    kiali = helm_release(evaluation, "kiali-server")["values"]["deployment"]
    has_budget = "pod_disruption_budget" in kiali
    assert has_budget is (kiali["replicas"] > 1)
    if has_budget:
        assert kiali["pod_disruption_budget"]["spec"] == {"maxUnavailable": 1}


@pytest.mark.parametrize("stack", STACKS)
def test_jaeger_is_cluster_internal_and_fenced(stack: str) -> None:
    evaluation = evaluated(stack)
    assert helm_release(evaluation, "jaeger")["values"]["jaeger"]["service"] == {
        "type": "ClusterIP"
    }
    (policy,) = evaluation.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")
    spec = policy.inputs["spec"]
    assert spec["podSelector"]["matchLabels"]["app.kubernetes.io/instance"] == "jaeger"
    assert spec["policyTypes"] == ["Ingress"]
    open_rule, query_rule = spec["ingress"]
    assert "from" not in open_rule
    assert {port["port"] for port in open_rule["ports"]} == {4317, 4318, 13133, 8888}
    assert {port["port"] for port in query_rule["ports"]} == {16686, 16685}
    kiali_namespace = helm_release(evaluation, "kiali-server")["namespace"]
    kiali, *ingress = query_rule["from"]
    # A stack that advertises an external URL names who serves it; the others admit only Kiali.
    assert bool(ingress) == ("external_url" in stack_config(stack)[f"{NS}jaeger"])
    assert kiali["namespaceSelector"]["matchLabels"] == {
        "kubernetes.io/metadata.name": kiali_namespace
    }
    assert kiali["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": "kiali"}


def test_an_ingress_namespace_may_reach_the_jaeger_ui() -> None:
    config = stack_config("prod")
    config[f"{NS}jaeger"] = {**config[f"{NS}jaeger"], "query_ingress_namespaces": ["ingress-nginx"]}
    (policy,) = evaluate("prod", config).of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")
    clients = policy.inputs["spec"]["ingress"][1]["from"]
    assert {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}
    } in (clients)


PASSWORD = "es-password-c4f1b2"
CLIENT_SECRET = "oidc-client-secret-9d8e7f"


@pytest.mark.parametrize("stack", STACKS)
def test_credentials_travel_only_as_secrets(stack: str) -> None:
    config = stack_config(stack)
    environment = config[f"{NS}environment"]
    config[f"{NS}jaeger"] = {
        "storage": "opensearch",
        "replicas": 2,
        "opensearch": {
            "url": "https://os.example:9200",
            "username": "jaeger",
            "password": PASSWORD,
        },
    }
    config[f"{NS}kiali"] = {
        "auth": "openid",
        "openid": {
            "issuer_uri": "https://idp.example",
            "client_id": "kiali",
            "client_secret": CLIENT_SECRET,
        },
    }
    evaluation = evaluate(stack, config, secret_keys=[f"{NS}jaeger", f"{NS}kiali"])
    everything = json.dumps(plan_document(evaluation, "mesh-tracing"))
    assert PASSWORD not in everything
    assert CLIENT_SECRET not in everything
    assert environment in everything
    secrets = {
        resource.name: resource.inputs["stringData"]
        for resource in evaluation.of_type("kubernetes:core/v1:Secret")
    }
    assert secrets["mesh-jaeger-storage-credentials"] == {
        "password": "[secret]",
        "username": "[secret]",
    }
    assert secrets["mesh-kiali-oidc"] == {"oidc-secret": "[secret]"}
    for chart in ("jaeger", "kiali-server"):
        values = json.dumps(helm_release(evaluation, chart)["values"])
        assert "[secret]" not in values, f"{chart} values must reference Secrets, not hold them"
    secret_urns = {r.urn for r in evaluation.of_type("kubernetes:core/v1:Secret")}
    for release in ("mesh-jaeger-release", "mesh-kiali-release"):
        assert secret_urns & set(evaluation.named(release).dependencies), (
            f"{release} starts only after the Secrets it reads exist"
        )
