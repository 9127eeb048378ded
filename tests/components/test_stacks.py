"""The real program, evaluated for each stack under the Pulumi SDK's mock runtime."""

from __future__ import annotations

import runpy
from urllib.parse import urlsplit

import pytest

from mesh_tracing.plan.evaluate import SECRET_MASK, StackEvaluation, evaluate
from mesh_tracing.specs.charts import JAEGER_CHART, KIALI_CHART, PROMETHEUS_CHART
from support import NS, PROJECT_DIR, evaluated, helm_release, stack_config, telemetries

# Ports of the jaeger chart's Service (read in the chart's templates, checked by rendering it).
OTLP_GRPC_PORT = 4317
QUERY_GRPC_PORT = 16685
QUERY_HTTP_PORT = 16686

COMPONENT_TYPES = {
    "mesh-tracing:index:MeshObservability",
    "mesh-tracing:index:Jaeger",
    "mesh-tracing:index:IstioTracing",
    "mesh-tracing:index:Prometheus",
    "mesh-tracing:index:Kiali",
}


def _jaeger_service(evaluation: StackEvaluation) -> tuple[str, str]:
    """(service host, namespace) of the Jaeger release: the chart names its Service after it."""
    release = helm_release(evaluation, JAEGER_CHART.chart)
    namespace = release["namespace"]
    return f"{release['name']}.{namespace}.svc.cluster.local", namespace


def _mesh_config(evaluation: StackEvaluation) -> dict:
    """The mesh config istiod runs with: the installed chart's, else the exported snippet."""
    istiod = [
        resource.inputs
        for resource in evaluation.of_type("kubernetes:helm.sh/v3:Release")
        if resource.inputs["chart"] == "istiod"
    ]
    if istiod:
        return istiod[0]["values"]["meshConfig"]
    return evaluation.outputs["mesh_config"]


def test_every_stack_evaluates_with_all_components(evaluation: StackEvaluation) -> None:
    types = {resource.type for resource in evaluation.resources}
    assert types >= COMPONENT_TYPES
    assert evaluation.error is None
    for key in ("kiali_url", "jaeger_ui_url", "otlp_endpoint", "sampling_percent_by_namespace"):
        assert evaluation.outputs[key], key


def test_every_resource_is_parented_inside_the_stack_component(evaluation: StackEvaluation) -> None:
    top = evaluation.named("mesh")
    assert top.type == "mesh-tracing:index:MeshObservability"
    urns = {resource.urn for resource in evaluation.resources}
    for resource in evaluation.resources:
        if resource is top:
            continue
        assert resource.parent in urns, resource.name
    children_of_top = {r.type for r in evaluation.resources if r.parent == top.urn}
    assert COMPONENT_TYPES - {"mesh-tracing:index:MeshObservability"} <= children_of_top


def test_telemetry_names_a_provider_defined_in_the_mesh_config(
    evaluation: StackEvaluation,
) -> None:
    providers = {
        provider["name"]: provider for provider in _mesh_config(evaluation)["extensionProviders"]
    }
    resources = telemetries(evaluation)
    assert resources
    for telemetry in resources:
        assert telemetry["apiVersion"] == "telemetry.istio.io/v1"
        for rule in telemetry["spec"]["tracing"]:
            assert [provider["name"] for provider in rule["providers"]] == ["jaeger-otlp"]
            assert rule["providers"][0]["name"] in providers


def test_provider_points_at_jaegers_otlp_grpc_service(evaluation: StackEvaluation) -> None:
    host, _ = _jaeger_service(evaluation)
    (provider,) = _mesh_config(evaluation)["extensionProviders"]
    assert provider["opentelemetry"] == {"service": host, "port": OTLP_GRPC_PORT}
    jaeger_config = helm_release(evaluation, JAEGER_CHART.chart)["values"]["userconfig"]
    otlp = jaeger_config["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"]
    assert otlp.endswith(f":{OTLP_GRPC_PORT}")
    assert evaluation.outputs["otlp_endpoint"] == f"{host}:{OTLP_GRPC_PORT}"


def test_every_telemetry_sets_its_sampling_explicitly(evaluation: StackEvaluation) -> None:
    trace_starts = dict(evaluation.outputs["trace_start_sampling_percent"])
    root = trace_starts.pop("*", None)
    expected_namespaces = {**({"istio-system": root} if root is not None else {}), **trace_starts}
    namespaces, gateways = {}, {}
    for telemetry in telemetries(evaluation):
        (rule,) = telemetry["spec"]["tracing"]
        assert rule["providers"] == [{"name": "jaeger-otlp"}]
        percent = rule["randomSamplingPercentage"]
        selector = telemetry["spec"].get("selector")
        if selector is None:
            namespaces[telemetry["metadata"]["namespace"]] = percent
        else:
            labels = ",".join(f"{k}={v}" for k, v in sorted(selector["matchLabels"].items()))
            gateways[f"{telemetry['metadata']['namespace']}/{labels}"] = percent
    assert namespaces == pytest.approx(expected_namespaces)
    assert namespaces == pytest.approx(evaluation.outputs["sampling_percent_by_namespace"])
    assert gateways == pytest.approx(evaluation.outputs["gateway_sampling_percent"])


def test_no_legacy_sampling_beside_telemetry(evaluation: StackEvaluation) -> None:
    mesh = _mesh_config(evaluation)
    assert "tracing" not in mesh.get("defaultConfig", {})
    for release in evaluation.of_type("kubernetes:helm.sh/v3:Release"):
        values = release.inputs["values"]
        assert "traceSampling" not in values
        assert "traceSampling" not in values.get("pilot", {})


def test_kiali_queries_the_jaeger_this_stack_created(evaluation: StackEvaluation) -> None:
    host, _ = _jaeger_service(evaluation)
    kiali = helm_release(evaluation, KIALI_CHART.chart)["values"]
    tracing = kiali["external_services"]["tracing"]
    assert tracing["enabled"] is True
    assert tracing["provider"] == "jaeger"
    url = urlsplit(tracing["internal_url"])
    assert url.hostname == host
    if tracing["use_grpc"]:
        assert url.port == QUERY_GRPC_PORT
    else:
        jaeger_config = helm_release(evaluation, JAEGER_CHART.chart)["values"]["userconfig"]
        assert url.port == QUERY_HTTP_PORT
        assert url.path == jaeger_config["extensions"]["jaeger_query"]["base_path"]
    assert evaluation.outputs["jaeger_query_url"] == tracing["internal_url"]


def test_kiali_reads_the_prometheus_in_use(evaluation: StackEvaluation, stack_name: str) -> None:
    kiali = helm_release(evaluation, KIALI_CHART.chart)["values"]
    prometheus_url = kiali["external_services"]["prometheus"]["url"]
    settings = stack_config(stack_name)[f"{NS}prometheus"]
    if settings.get("install"):
        release = helm_release(evaluation, PROMETHEUS_CHART.chart)
        url = urlsplit(prometheus_url)
        assert url.hostname == f"{release['name']}-server.{release['namespace']}.svc.cluster.local"
        assert url.port == 80
    else:
        assert prometheus_url == settings["url"]
        assert not [
            r
            for r in evaluation.of_type("kubernetes:helm.sh/v3:Release")
            if r.inputs["chart"] == PROMETHEUS_CHART.chart
        ]
    assert evaluation.outputs["prometheus_url"] == prometheus_url


def test_kiali_is_told_the_meshs_root_namespace_not_its_own() -> None:
    """Left to the chart, Kiali's config would name its own namespace (observability) as the
    mesh's root namespace."""
    for root in ("istio-system", "mesh-root"):
        config = stack_config("staging")
        config[f"{NS}istio"] = {**config.get(f"{NS}istio", {}), "root_namespace": root}
        kiali = helm_release(evaluate("staging", config), KIALI_CHART.chart)["values"]
        assert kiali["external_services"]["istio"] == {"root_namespace": root}


def test_kiali_signing_key_is_a_managed_secret_not_a_chart_value(
    evaluation: StackEvaluation,
) -> None:
    kiali = helm_release(evaluation, KIALI_CHART.chart)
    reference = kiali["values"]["login_token"]["signing_key"]
    assert reference.startswith("secret:")
    _, secret_name, key = reference.split(":")
    (secret,) = [
        resource
        for resource in evaluation.of_type("kubernetes:core/v1:Secret")
        if resource.inputs["metadata"]["name"] == secret_name
    ]
    assert secret.inputs["stringData"] == {key: SECRET_MASK}
    assert secret.inputs["metadata"]["namespace"] == kiali["namespace"]
    # Drawn anew on every run; the Secret keeps the first one by ignoring changes to it.
    assert sorted(secret.ignore_changes) == ["data", "stringData"]


def test_the_signing_key_is_a_fresh_kiali_sized_key() -> None:
    from mesh_tracing.specs.kiali import new_signing_key

    first, second = new_signing_key(), new_signing_key()
    assert len(first) == 32 and int(first, 16) >= 0 and first != second


def test_jaeger_pods_stay_out_of_the_mesh(evaluation: StackEvaluation) -> None:
    jaeger = helm_release(evaluation, JAEGER_CHART.chart)["values"]["jaeger"]
    assert jaeger["podLabels"]["sidecar.istio.io/inject"] == "false"


def test_the_stacks_differ_as_intended() -> None:
    dev, staging, prod = (evaluated(stack) for stack in ("dev", "staging", "prod"))

    def storage(evaluation: StackEvaluation) -> set[str]:
        userconfig = helm_release(evaluation, JAEGER_CHART.chart)["values"]["userconfig"]
        (backend,) = userconfig["extensions"]["jaeger_storage"]["backends"].values()
        return set(backend)

    assert storage(dev) == {"memory"}
    assert storage(staging) == {"badger"}
    assert storage(prod) == {"elasticsearch"}
    assert dev.outputs["sampling_percent_by_namespace"] == {"istio-system": 100}
    assert staging.outputs["sampling_percent_by_namespace"]["istio-system"] == 10
    assert max(prod.outputs["sampling_percent_by_namespace"].values()) <= 5
    assert helm_release(dev, KIALI_CHART.chart)["values"]["auth"]["strategy"] == "anonymous"
    assert helm_release(prod, KIALI_CHART.chart)["values"]["auth"]["strategy"] != "anonymous"
    assert any(r.inputs["chart"] == "istiod" for r in dev.of_type("kubernetes:helm.sh/v3:Release"))
    assert not any(
        r.inputs["chart"] in ("istiod", "base")
        for r in prod.of_type("kubernetes:helm.sh/v3:Release")
    )


def test_prod_jaeger_is_replicated_with_a_disruption_budget() -> None:
    prod = evaluated("prod")
    jaeger = helm_release(prod, JAEGER_CHART.chart)["values"]["jaeger"]
    assert jaeger["replicas"] == 3
    (budget,) = prod.of_type("kubernetes:policy/v1:PodDisruptionBudget")
    assert (
        budget.inputs["spec"]["selector"]["matchLabels"]["app.kubernetes.io/instance"] == "jaeger"
    )
    env = {
        entry["name"]: entry["valueFrom"]["secretKeyRef"]
        for entry in jaeger["extraEnv"]
        if "valueFrom" in entry
    }
    assert {ref["name"] for ref in env.values()} == {"jaeger-elasticsearch-credentials"}


def test_staging_badger_volume_survives_the_stack() -> None:
    staging = evaluated("staging")
    (claim,) = staging.of_type("kubernetes:core/v1:PersistentVolumeClaim")
    assert claim.retain_on_delete
    assert claim.inputs["spec"]["resources"]["requests"]["storage"] == "20Gi"
    release = helm_release(staging, JAEGER_CHART.chart)
    volumes = release["values"]["jaeger"]["extraVolumes"]
    assert volumes[0]["persistentVolumeClaim"]["claimName"] == claim.inputs["metadata"]["name"]
    assert claim.urn in staging.named("mesh-jaeger-release").dependencies


def test_main_entry_point_runs_the_same_program() -> None:
    config = stack_config("staging")
    via_entry_point = evaluate(
        "staging", config, program=lambda: runpy.run_path(str(PROJECT_DIR / "__main__.py"))
    )
    via_module = evaluated("staging")
    assert sorted((r.type, r.name) for r in via_entry_point.resources) == sorted(
        (r.type, r.name) for r in via_module.resources
    )
    assert via_entry_point.outputs == via_module.outputs


@pytest.mark.parametrize(
    ("stack", "section", "change"),
    [
        ("prod", "tracing", {"sampling": 5.01}),
        ("prod", "tracing", {"sampling": 1, "namespaces": {"payments": 50}}),
        ("dev", "tracing", {"sampling": float("nan")}),
        ("dev", "tracing", {"sampling": -1}),
        ("dev", "tracing", {"sampling": 101}),
        ("dev", "tracing", {"sampling": "lots"}),
        ("dev", "tracing", {"sampling": 1, "namespaces": {"Not_A_Namespace": 1}}),
        ("dev", "tracing", {"sampling": 1, "colour": "blue"}),
        ("dev", "environment", None),
        ("staging", "kiali", {"auth": "anonymous"}),
        ("prod", "jaeger", {"storage": "memory", "replicas": 1}),
    ],
)
def test_bad_config_fails_before_any_resource_is_registered(
    stack: str, section: str, change: object
) -> None:
    config = stack_config(stack)
    if change is None:
        del config[f"{NS}{section}"]
    else:
        config[f"{NS}{section}"] = change
    result = evaluate(stack, config, raise_errors=False)
    assert result.error is not None
    assert result.resources == []
    message = str(result.error)
    assert f"stack '{stack}'" in message
    assert f"{NS}{section}" in message
    assert "allowed:" in message


def test_kiali_and_the_mesh_do_not_wait_for_jaeger_or_prometheus_to_be_ready(
    evaluation: StackEvaluation,
) -> None:
    """Their URLs come from the names we give the releases, so the engine installs the releases
    side by side (benchmarks/deploy.py) and previews show the URLs."""
    releases = {r.inputs["name"]: r for r in evaluation.of_type("kubernetes:helm.sh/v3:Release")}
    waited_on = {releases[name].urn for name in ("jaeger", "prometheus") if name in releases}
    # (Jaeger's own PDB does follow its release.)
    for resource in evaluation.resources:
        if not resource.name.startswith("mesh-jaeger"):
            assert not waited_on & set(resource.dependencies), resource.name
    kiali = releases["kiali"].inputs["values"]["external_services"]
    assert kiali["tracing"]["internal_url"].startswith("http://jaeger.observability.svc")
