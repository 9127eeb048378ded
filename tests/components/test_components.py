"""Each component on its own, as another stack would use it."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s
import pytest

from mesh_tracing import ConfigError, IstioTracing, Jaeger, Kiali, MeshObservability, Prometheus
from mesh_tracing.plan.evaluate import SECRET_MASK, evaluate


def _run(program) -> object:
    return evaluate("consumer", {}, program=program, raise_errors=False)


def test_istio_tracing_alone_only_adds_telemetry_to_an_existing_mesh() -> None:
    def program() -> None:
        IstioTracing(
            "tracing",
            {
                "environment": "prod",
                "tracing": {"sampling": 0.5, "namespaces": {"shop": 2}},
                "istio": {"install": False},
                "otlp_service_host": "otel-collector.monitoring.svc.cluster.local",
                "otlp_port": 4317,
            },
        )

    result = _run(program)
    assert result.error is None
    types = sorted(resource.type for resource in result.resources)
    assert types == [
        "kubernetes:telemetry.istio.io/v1:Telemetry",
        "kubernetes:telemetry.istio.io/v1:Telemetry",
        "mesh-tracing:index:IstioTracing",
    ]


def test_components_enforce_the_production_cap_themselves() -> None:
    def program() -> None:
        IstioTracing(
            "tracing",
            {
                "environment": "prod",
                "tracing": {"sampling": 1, "namespaces": {"shop": 7.5}},
                "otlp_service_host": "collector",
                "otlp_port": 4317,
            },
        )

    result = _run(program)
    assert isinstance(result.error, ConfigError)
    assert "component 'tracing'" in str(result.error)
    assert "tracing.namespaces.shop = 7.5" in str(result.error)
    assert result.resources == []


def test_kiali_refuses_anonymous_outside_dev() -> None:
    def program() -> None:
        Kiali(
            "kiali",
            {
                "environment": "staging",
                "kiali": {"auth": "anonymous"},
                "jaeger_query_url": "http://jaeger.obs:16685",
                "prometheus_url": "http://prometheus.obs:9090",
            },
        )

    result = _run(program)
    assert isinstance(result.error, ConfigError)
    assert "kiali.auth = 'anonymous'" in str(result.error)
    assert result.resources == []


def test_secret_outputs_are_accepted_and_stay_secret() -> None:
    def program() -> None:
        password = pulumi.Output.secret("from-another-stack")
        Jaeger(
            "jaeger",
            {
                "environment": "prod",
                "jaeger": {
                    "storage": "opensearch",
                    "opensearch": {
                        "url": "https://os:9200",
                        "username": "jaeger",
                        "password": password,
                    },
                },
            },
        )

    result = _run(program)
    assert result.error is None
    (secret,) = result.of_type("kubernetes:core/v1:Secret")
    assert secret.inputs["stringData"] == {"username": SECRET_MASK, "password": SECRET_MASK}
    assert "from-another-stack" not in repr([r.inputs for r in result.resources])


def test_a_consumer_provider_and_namespace_are_used() -> None:
    def program() -> None:
        provider = k8s.Provider("team-cluster", context="team-a")
        Prometheus(
            "metrics",
            {
                "environment": "staging",
                "prometheus": {"install": True, "namespace": "team-a-metrics"},
            },
            opts=pulumi.ResourceOptions(providers=[provider]),
        )

    result = _run(program)
    assert result.error is None
    (release,) = result.of_type("kubernetes:helm.sh/v3:Release")
    assert release.inputs["namespace"] == "team-a-metrics"
    (provider,) = result.of_type("pulumi:providers:kubernetes")
    assert provider.inputs["context"] == "team-a"
    assert release.provider is not None and release.provider.startswith(provider.urn)


def test_plain_outputs_where_settings_are_required_are_refused() -> None:
    def program() -> None:
        Jaeger(
            "jaeger",
            {
                "environment": "dev",
                "jaeger": {"badger": {"volume_size": pulumi.Output.from_input("1Gi")}},
            },
        )

    result = _run(program)
    assert isinstance(result.error, ConfigError)
    assert "jaeger.badger.volume_size = (pulumi output)" in str(result.error)
    assert result.resources == []


@pytest.mark.parametrize("component", [MeshObservability])
def test_the_composite_validates_across_sections(component: type) -> None:
    def program() -> None:
        component(
            "mesh",
            {
                "environment": "dev",
                "tracing": {"sampling": 1, "namespaces": {"mesh-root": 2}},
                "istio": {"root_namespace": "mesh-root"},
            },
        )

    result = _run(program)
    assert isinstance(result.error, ConfigError)
    assert "tracing.namespaces.mesh-root" in str(result.error)
    assert result.resources == []


def test_unknown_arguments_are_refused_by_name() -> None:
    def program() -> None:
        Jaeger("jaeger", {"environment": "dev", "storage": "memory"})

    result = _run(program)
    assert isinstance(result.error, ConfigError)
    assert "storage = 'memory': unknown key" in str(result.error)
    assert "one of: environment, jaeger" in str(result.error)
    assert result.resources == []


def test_istio_tracing_can_add_overrides_only() -> None:
    def program() -> None:
        IstioTracing(
            "team",
            {
                "environment": "prod",
                "tracing": {"namespaces": {"shop": 2, "cart": 1}},
                "istio": {"own_mesh_default": False},
                "otlp_service_host": "jaeger.observability.svc.cluster.local",
                "otlp_port": 4317,
            },
        )

    result = _run(program)
    assert result.error is None
    namespaces = sorted(
        resource.inputs["metadata"]["namespace"]
        for resource in result.resources
        if resource.type == "kubernetes:telemetry.istio.io/v1:Telemetry"
    )
    assert namespaces == ["cart", "shop"]


def test_istio_tracing_checks_rules_across_its_sections() -> None:
    def program() -> None:
        IstioTracing(
            "team",
            {
                "environment": "dev",
                "tracing": {"sampling": 3},
                "istio": {"own_mesh_default": False},
                "otlp_service_host": "jaeger",
                "otlp_port": 4317,
            },
        )

    result = _run(program)
    assert isinstance(result.error, ConfigError)
    message = str(result.error)
    assert "tracing.sampling = 3: not used" in message
    assert "tracing.namespaces = {}" in message
    assert result.resources == []
