"""Pure builders of chart values and CRD specs, tested without any Pulumi runtime."""

from __future__ import annotations

import subprocess
import sys

import pytest

from mesh_tracing.config import load_stack_config
from mesh_tracing.specs.istio import istiod_values, tracing_mesh_config
from mesh_tracing.specs.jaeger import (
    collector_config,
    config_hash,
    jaeger_endpoints,
    jaeger_service_name,
    jaeger_values,
)
from mesh_tracing.specs.kiali import kiali_values
from mesh_tracing.specs.prometheus import prometheus_server_url, prometheus_values
from mesh_tracing.specs.telemetry import telemetry_manifests, tracing_telemetry_spec


def _settings(environment: str = "dev", **sections: dict):
    raw = {"environment": environment, "tracing": {"sampling": 1}, **sections}
    return load_stack_config(
        "specs", raw, secret_keys=("mesh-tracing:jaeger", "mesh-tracing:kiali")
    )


def test_specs_need_no_pulumi_runtime() -> None:
    code = (
        "import sys, mesh_tracing.specs.jaeger, mesh_tracing.specs.kiali, "
        "mesh_tracing.specs.istio, mesh_tracing.specs.prometheus, mesh_tracing.specs.telemetry; "
        "print(any(m == 'pulumi' or m.startswith('pulumi.') for m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


def test_telemetry_spec_names_provider_and_percentage() -> None:
    assert tracing_telemetry_spec("jaeger-otlp", 2.5) == {
        "tracing": [{"providers": [{"name": "jaeger-otlp"}], "randomSamplingPercentage": 2.5}]
    }


def test_telemetry_manifests_one_per_namespace_mesh_wide_in_root() -> None:
    manifests = telemetry_manifests("istio-system", "p", 1, {"b": 2, "a": 0})
    assert list(manifests) == ["istio-system", "a", "b"]
    assert manifests["istio-system"]["namespace"] == "istio-system"
    assert manifests["a"]["spec"]["tracing"][0]["randomSamplingPercentage"] == 0.0
    assert {
        manifest["name"] for namespace, manifest in manifests.items() if namespace != "istio-system"
    } == {"mesh-tracing-sampling"}


def test_mesh_config_defines_only_the_tracing_provider() -> None:
    mesh = tracing_mesh_config(
        "jaeger-otlp", "jaeger.obs.svc.cluster.local", 4317, root_namespace="mesh-root"
    )
    # The root travels with the provider: a mesh merged elsewhere must find the mesh-wide
    # Telemetry where this stack puts it.
    assert mesh["rootNamespace"] == "mesh-root"
    assert mesh["extensionProviders"] == [
        {
            "name": "jaeger-otlp",
            "opentelemetry": {"service": "jaeger.obs.svc.cluster.local", "port": 4317},
        }
    ]
    # defaultProviders would drop the istiod chart's metrics default; defaultConfig.tracing would
    # be a second sampling knob.
    assert "defaultProviders" not in mesh
    assert "defaultConfig" not in mesh


def test_istiod_values_pin_replicas_and_root_namespace() -> None:
    values = istiod_values("mesh-root", 3, {"rootNamespace": "mesh-root", "enableTracing": True})
    assert values["autoscaleEnabled"] is False
    assert values["replicaCount"] == 3
    assert values["meshConfig"]["rootNamespace"] == "mesh-root"
    assert values["global"]["istioNamespace"] == "mesh-root"


@pytest.mark.parametrize(
    ("jaeger", "backend_key"),
    [
        ({"storage": "memory"}, "memory"),
        ({"storage": "badger"}, "badger"),
        (
            {"storage": "elasticsearch", "elasticsearch": {"url": "https://es:9200"}},
            "elasticsearch",
        ),
        ({"storage": "opensearch", "opensearch": {"url": "https://os:9200"}}, "opensearch"),
    ],
)
def test_collector_config_has_one_backend_and_listens_on_all_interfaces(
    jaeger: dict, backend_key: str
) -> None:
    settings = _settings("staging", jaeger=jaeger).jaeger
    config = collector_config(settings, has_credentials=False)
    (backend,) = config["extensions"]["jaeger_storage"]["backends"].values()
    assert list(backend) == [backend_key]
    assert (
        config["exporters"]["jaeger_storage_exporter"]["trace_storage"]
        in (config["extensions"]["jaeger_storage"]["backends"])
    )
    assert (
        config["extensions"]["jaeger_query"]["storage"]["traces"]
        in (config["extensions"]["jaeger_storage"]["backends"])
    )
    endpoints = [
        config["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"],
        config["receivers"]["otlp"]["protocols"]["http"]["endpoint"],
        config["extensions"]["jaeger_query"]["http"]["endpoint"],
        config["extensions"]["jaeger_query"]["grpc"]["endpoint"],
        config["extensions"]["healthcheckv2"]["http"]["endpoint"],
    ]
    assert all(endpoint.startswith("0.0.0.0:") for endpoint in endpoints)
    assert config["extensions"]["healthcheckv2"]["http"]["endpoint"] == "0.0.0.0:13133"


def test_badger_keeps_its_data_on_the_volume() -> None:
    settings = _settings("staging", jaeger={"badger": {"span_retention": "48h"}}).jaeger
    values = jaeger_values(settings, badger_claim="claim", credentials_secret=None)
    badger = values["userconfig"]["extensions"]["jaeger_storage"]["backends"]["primary"]["badger"]
    assert badger["ephemeral"] is False
    assert badger["ttl"] == {"spans": "48h"}
    mount = values["jaeger"]["extraVolumeMounts"][0]["mountPath"]
    assert badger["directories"]["keys"].startswith(mount + "/")
    assert values["jaeger"]["strategy"] == {"type": "Recreate"}


def test_search_credentials_come_from_the_secret_through_the_environment() -> None:
    settings = _settings(
        "prod",
        jaeger={"elasticsearch": {"url": "https://es:9200", "existing_secret": "es-creds"}},
        prometheus={"url": "http://p:9090"},
    ).jaeger
    values = jaeger_values(settings, badger_claim=None, credentials_secret="es-creds")
    auth = values["userconfig"]["extensions"]["jaeger_storage"]["backends"]["primary"][
        "elasticsearch"
    ]["auth"]["basic"]
    env = {
        entry["name"]: entry["valueFrom"]["secretKeyRef"]
        for entry in values["jaeger"]["extraEnv"]
        if "valueFrom" in entry
    }
    password_variable = next(name for name in env if "PASSWORD" in name)
    assert auth["password"] == f"${{env:{password_variable}}}"
    assert {ref["name"] for ref in env.values()} == {"es-creds"}
    assert values["jaeger"]["strategy"]["type"] == "RollingUpdate"


@pytest.mark.parametrize("storage", ["memory", "badger", "elasticsearch"])
def test_go_is_told_the_memory_limit_with_room_below_it(storage: str) -> None:
    extra = {"elasticsearch": {"url": "https://es:9200", "existing_secret": "es"}}
    jaeger = {"storage": storage, **(extra if storage == "elasticsearch" else {})}
    values = jaeger_values(
        _settings(jaeger=jaeger).jaeger,
        badger_claim="claim" if storage == "badger" else None,
        credentials_secret="es" if storage == "elasticsearch" else None,
    )["jaeger"]
    limit = values["resources"]["limits"]["memory"]
    assert limit.endswith("Gi")
    (go_limit,) = [e["value"] for e in values["extraEnv"] if e["name"] == "GOMEMLIMIT"]
    assert go_limit.endswith("MiB")
    assert int(go_limit[:-3]) == int(limit[:-2]) * 1024 * 9 // 10


def test_config_hash_label_follows_the_config() -> None:
    memory = _settings(jaeger={"memory_max_traces": 5000}).jaeger
    more = _settings(jaeger={"memory_max_traces": 6000}).jaeger
    first = jaeger_values(memory, badger_claim=None, credentials_secret=None)
    second = jaeger_values(more, badger_claim=None, credentials_secret=None)
    label = "mesh-tracing.io/config-hash"
    assert first["jaeger"]["podLabels"][label] == config_hash(first["userconfig"])
    assert first["jaeger"]["podLabels"][label] != second["jaeger"]["podLabels"][label]
    assert len(first["jaeger"]["podLabels"][label]) <= 63


def test_jaeger_endpoints_follow_the_chart_service_name() -> None:
    assert jaeger_service_name("jaeger") == "jaeger"
    assert jaeger_service_name("tracing") == "tracing-jaeger"
    endpoints = jaeger_endpoints("jaeger", "obs", "/jaeger")
    assert endpoints["otlp_grpc_endpoint"] == "jaeger.obs.svc.cluster.local:4317"
    assert endpoints["query_http_url"] == "http://jaeger.obs.svc.cluster.local:16686/jaeger"
    assert endpoints["query_grpc_url"] == "http://jaeger.obs.svc.cluster.local:16685"
    assert jaeger_endpoints("jaeger", "obs", "/")["query_http_url"].endswith(":16686")


def test_kiali_values_reference_secrets_and_never_hold_them() -> None:
    settings = _settings(
        kiali={
            "auth": "openid",
            "openid": {
                "issuer_uri": "https://idp.example",
                "client_id": "kiali",
                "client_secret": "s3cret",
            },
        }
    ).kiali
    values = kiali_values(
        settings,
        jaeger_internal_url="http://jaeger.obs.svc.cluster.local:16685",
        jaeger_external_url=None,
        prometheus_url="http://prom:9090",
        istio_root_namespace="istio-system",
        signing_key_secret="kiali-signing-key",
        oidc_secret="kiali-oidc",
    )
    assert "s3cret" not in repr(values)
    assert values["auth"]["strategy"] == "openid"
    assert values["auth"]["openid"]["client_id"] == "kiali"
    assert values["deployment"]["secret_name"] == "kiali-oidc"
    assert values["login_token"]["signing_key"] == "secret:kiali-signing-key:signing-key"
    assert values["external_services"]["tracing"]["disable_version_check"] is True
    assert values["external_services"]["grafana"] == {"enabled": False}
    assert values["external_services"]["istio"] == {"root_namespace": "istio-system"}


def test_prometheus_values_turn_off_what_kiali_does_not_need() -> None:
    settings = _settings(prometheus={"install": True, "retention": "3d"}).prometheus
    values = prometheus_values(settings)
    for subchart in (
        "alertmanager",
        "kube-state-metrics",
        "prometheus-node-exporter",
        "prometheus-pushgateway",
    ):
        assert values[subchart] == {"enabled": False}
    assert values["server"]["retention"] == "3d"
    assert values["scrapeConfigs"]["kubernetes-pods"] == {"enabled": True}
    assert (
        prometheus_server_url("prometheus", "obs")
        == "http://prometheus-server.obs.svc.cluster.local:80"
    )
    assert prometheus_server_url("metrics", "obs") == (
        "http://metrics-prometheus-server.obs.svc.cluster.local:80"
    )
