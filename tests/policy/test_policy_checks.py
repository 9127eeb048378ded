"""The policy pack's checks on hand-built resource inputs, without an engine."""

from __future__ import annotations

import math

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from tracing_policies import (
    PolicySettings,
    StackResource,
    chart_name,
    is_production,
    jaeger_storage_violations,
    kiali_auth_violations,
    legacy_sampling_violations,
    missing_provider_violations,
    number,
    parse_documents,
    plain,
    telemetry_violations,
)

V1 = "kubernetes:telemetry.istio.io/v1:Telemetry"
V1ALPHA1 = "kubernetes:telemetry.istio.io/v1alpha1:Telemetry"
RELEASE = "kubernetes:helm.sh/v3:Release"
CHART = "kubernetes:helm.sh/v4:Chart"


def _telemetry(*percentages: float | None, provider: str | None = "jaeger-otlp") -> dict:
    rules = []
    for percentage in percentages:
        rule: dict = {}
        if provider is not None:
            rule["providers"] = [{"name": provider}]
        if percentage is not None:
            rule["randomSamplingPercentage"] = percentage
        rules.append(rule)
    return {"apiVersion": "telemetry.istio.io/v1", "kind": "Telemetry", "spec": {"tracing": rules}}


@pytest.mark.parametrize("resource_type", [V1, V1ALPHA1])
@pytest.mark.parametrize(
    ("percentage", "violations"), [(0, 0), (5, 0), (5.0, 0), (5.01, 1), (100, 1)]
)
def test_telemetry_cap_edges(resource_type: str, percentage: float, violations: int) -> None:
    found = telemetry_violations(resource_type, "mesh", _telemetry(percentage), 5)
    assert len(found) == violations
    if found:
        assert "Telemetry 'mesh'" in found[0]
        assert "spec.tracing[0].randomSamplingPercentage" in found[0]
        assert str(percentage) in found[0]
        assert "cap of 5 percent" in found[0]


def test_missing_percentage_is_a_violation() -> None:
    (message,) = telemetry_violations(V1, "shop", _telemetry(1, None), 5)
    assert "spec.tracing[1].randomSamplingPercentage is missing" in message


def test_telemetry_without_tracing_is_not_judged() -> None:
    assert telemetry_violations(V1, "metrics-only", {"spec": {"metrics": []}}, 5) == []
    config_map = {"kind": "ConfigMap", "data": {"spec": "tracing"}}
    assert telemetry_violations("kubernetes:core/v1:ConfigMap", "x", config_map, 5) == []


def test_inputs_that_say_telemetry_are_judged_as_one_whatever_the_type_token() -> None:
    (message,) = telemetry_violations("kubernetes:core/v1:ConfigMap", "x", _telemetry(90), 5)
    assert "spec.tracing[0].randomSamplingPercentage = 90" in message
    assert legacy_sampling_violations("kubernetes:core/v1:ConfigMap", "x", _telemetry(90), 5) == []


def test_configured_cap_is_used() -> None:
    assert telemetry_violations(V1, "mesh", _telemetry(2), 1)
    assert not telemetry_violations(V1, "mesh", _telemetry(2), 2)


@pytest.mark.parametrize(
    ("props", "path"),
    [
        (
            {"chart": "istiod", "values": {"pilot": {"traceSampling": 50}}},
            "values.pilot.traceSampling",
        ),
        ({"chart": "istio/istiod", "values": {"traceSampling": 5.5}}, "values.traceSampling"),
        (
            {
                "chart": "oci://ghcr.io/istio/release/charts/istiod",
                "values": {"meshConfig": {"defaultConfig": {"tracing": {"sampling": 10}}}},
            },
            "values.meshConfig.defaultConfig.tracing.sampling",
        ),
    ],
)
def test_istiod_legacy_sampling_above_cap(props: dict, path: str) -> None:
    for resource_type in (RELEASE, CHART):
        (message,) = legacy_sampling_violations(resource_type, "istiod", props, 5)
        assert path in message


def test_istiod_legacy_sampling_within_cap_or_unset() -> None:
    assert legacy_sampling_violations(RELEASE, "istiod", {"chart": "istiod", "values": {}}, 5) == []
    props = {"chart": "istiod", "values": {"traceSampling": 5, "pilot": {"traceSampling": 1}}}
    assert legacy_sampling_violations(RELEASE, "istiod", props, 5) == []
    # A chart of another name is no proof of anything: its sampling values are judged too.
    other_chart = {"chart": "my-istiod-wrapper", "values": {"traceSampling": 90}}
    (message,) = legacy_sampling_violations(RELEASE, "x", other_chart, 5)
    assert "values.traceSampling = 90" in message


def test_mesh_configmap_and_istio_operator_legacy_sampling() -> None:
    mesh = yaml.safe_dump({"defaultConfig": {"tracing": {"sampling": 20}}})
    (message,) = legacy_sampling_violations(
        "kubernetes:core/v1:ConfigMap", "istio", {"data": {"mesh": mesh}}, 5
    )
    assert "defaultConfig.tracing.sampling = 20" in message
    operator = {"spec": {"values": {"pilot": {"traceSampling": 7}}}}
    (message,) = legacy_sampling_violations(
        "kubernetes:install.istio.io/v1alpha1:IstioOperator", "control-plane", operator, 5
    )
    assert "spec.values.pilot.traceSampling = 7" in message


def test_kiali_anonymous_is_refused() -> None:
    anonymous = {"chart": "kiali-server", "values": {"auth": {"strategy": "anonymous"}}}
    (message,) = kiali_auth_violations(RELEASE, "kiali", anonymous)
    assert "values.auth.strategy = anonymous" in message
    token = {"chart": "kiali-server", "values": {"auth": {"strategy": "token"}}}
    assert kiali_auth_violations(RELEASE, "kiali", token) == []
    assert kiali_auth_violations(RELEASE, "kiali", {"chart": "kiali-server", "values": {}}) == []
    cr = {"spec": {"auth": {"strategy": "anonymous"}}}
    assert kiali_auth_violations("kubernetes:kiali.io/v1alpha1:Kiali", "kiali", cr)


@pytest.mark.parametrize(
    ("values", "fragment"),
    [
        ({}, "values.userconfig is not set"),
        (
            {
                "userconfig": {
                    "extensions": {"jaeger_storage": {"backends": {"main": {"memory": {}}}}}
                }
            },
            "backends.main.memory",
        ),
        (
            {"userconfig": {"extensions": {"jaeger_storage": {"backends": {"b": {"badger": {}}}}}}},
            "backends.b.badger",
        ),
    ],
)
def test_jaeger_volatile_storage_is_refused(values: dict, fragment: str) -> None:
    (message,) = jaeger_storage_violations(RELEASE, "jaeger", {"chart": "jaeger", "values": values})
    assert fragment in message


def test_jaeger_search_storage_is_accepted() -> None:
    values = {
        "userconfig": {
            "extensions": {
                "jaeger_storage": {"backends": {"p": {"elasticsearch": {"server_urls": []}}}}
            }
        }
    }
    assert jaeger_storage_violations(RELEASE, "jaeger", {"chart": "jaeger", "values": values}) == []
    operator = {"spec": {"storage": {"type": "memory"}}}
    assert jaeger_storage_violations("kubernetes:jaegertracing.io/v1:Jaeger", "j", operator)


@pytest.mark.parametrize(
    ("chart", "name"),
    [
        ("istiod", "istiod"),
        ("istio/istiod", "istiod"),
        ("oci://ghcr.io/istio/release/charts/istiod", "istiod"),
        ("https://example.com/charts/istiod-1.31.1.tgz", "istiod"),
        ("kiali-server", "kiali-server"),
        ("./charts/jaeger/", "jaeger"),
        ("oci://registry.example.com/charts/istiod:1.31.1", "istiod"),
        ("https://example.com/download/istiod-1.31.1.tgz?raw=true", "istiod"),
        ("/istio/manifests/charts/istio-control/istio-discovery", "istio-discovery"),
    ],
)
def test_chart_names(chart: str, name: str) -> None:
    assert chart_name(chart) == name


@pytest.mark.parametrize(
    ("stack", "environment", "production"),
    [
        ("prod", None, True),
        ("prod-eu", "dev", True),
        ("production", None, True),
        ("production-us", None, True),
        ("dev", "prod", True),
        ("dev", "dev", False),
        ("staging", None, False),
        ("preprod", None, False),
        ("product-catalog", None, False),
    ],
)
def test_what_counts_as_production(stack: str, environment: str | None, production: bool) -> None:
    assert is_production(stack, environment, PolicySettings()) is production


def test_production_patterns_are_configurable() -> None:
    settings = PolicySettings.from_config(
        {"productionStackPatterns": ["live-*"], "maxSamplingPercent": 1}
    )
    assert is_production("live-eu", None, settings)
    assert is_production("LIVE-us", None, settings)
    # Configured patterns add to the defaults: config cannot take a production stack out.
    assert is_production("prod", None, settings)
    assert settings.sampling_cap_percent == 1


@pytest.mark.parametrize(
    ("configured", "cap"),
    [(100, 5), (5.5, 5), (5, 5), (1, 1), (0, 0), ("2", 2), ("lots", 5), (-1, 5), (None, 5)],
)
def test_config_lowers_the_cap_and_never_raises_it(configured: object, cap: float) -> None:
    settings = PolicySettings.from_config({"maxSamplingPercent": configured})
    assert settings.sampling_cap_percent == cap


@pytest.mark.parametrize("environment", ["prod", "PROD", "Production", "production-eu"])
def test_an_environment_named_like_production_is_production(environment: str) -> None:
    assert is_production("eu-main", environment, PolicySettings())


def _stack(*resources: tuple[str, str, dict]) -> list[StackResource]:
    return [StackResource(t, n, f"urn:{n}", p) for t, n, p in resources]


def test_telemetry_provider_defined_by_istiod_values() -> None:
    istiod = {
        "chart": "istiod",
        "values": {
            "meshConfig": {"extensionProviders": [{"name": "jaeger-otlp", "opentelemetry": {}}]}
        },
    }
    assert (
        missing_provider_violations(
            _stack((RELEASE, "istiod", istiod), (V1, "mesh", _telemetry(1)))
        )
        == []
    )


def test_telemetry_provider_missing_is_reported() -> None:
    istiod = {
        "chart": "istiod",
        "values": {"meshConfig": {"extensionProviders": [{"name": "zipkin"}]}},
    }
    ((message, urn),) = missing_provider_violations(
        _stack((RELEASE, "istiod", istiod), (V1, "mesh", _telemetry(1)))
    )
    assert urn == "urn:mesh"
    assert "providers names jaeger-otlp" in message
    assert "defined: zipkin" in message
    assert missing_provider_violations(_stack((V1, "mesh", _telemetry(1))))


def test_telemetry_without_providers_uses_mesh_default() -> None:
    mesh = yaml.safe_dump(
        {"extensionProviders": [{"name": "otel"}], "defaultProviders": {"tracing": ["otel"]}}
    )
    resources = _stack(
        ("kubernetes:core/v1:ConfigMap", "istio", {"data": {"mesh": mesh}}),
        (V1, "mesh", _telemetry(1, provider=None)),
    )
    assert missing_provider_violations(resources) == []
    ((message, _),) = missing_provider_violations(
        _stack((V1, "mesh", _telemetry(1, provider=None)))
    )
    assert "names no provider" in message


def test_declared_mesh_config_of_the_component_counts() -> None:
    component = {"mesh_config": {"extensionProviders": [{"name": "jaeger-otlp"}]}}
    resources = _stack(
        ("mesh-tracing:index:IstioTracing", "mesh-istio", component), (V1, "mesh", _telemetry(1))
    )
    assert missing_provider_violations(resources) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a: 1", [{"a": "1"}]),
        ("a: 1\n---\nb: 2\n", [{"a": "1"}, {"b": "2"}]),
        ("a: !custom 7", [{"a": "7"}]),
        ('{"a": {"b": 1}}', [{"a": {"b": 1}}]),
        ("a: [unclosed", None),
        ("{{ .Values.x }}\n  b: [", None),
    ],
)
def test_text_is_read_with_every_document_and_any_tag(text: str, expected: object) -> None:
    documents = parse_documents(text)
    assert (None if documents is None else [plain(d) for d in documents]) == expected


@pytest.mark.parametrize("text", ['{"a": 1, "a": 2}', "a: 1\na: 2\n"])
def test_duplicate_keys_are_all_kept(text: str) -> None:
    (document,) = parse_documents(text)
    assert [value for _, value in document.items()] in ([1, 2], ["1", "2"])


def test_a_billion_laughs_is_refused_not_expanded() -> None:
    lol = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
    for level in "bcdefghij":
        previous = chr(ord(level) - 1)
        lol += f"{level}: &{level} [" + ", ".join([f"*{previous}"] * 10) + "]\n"
    assert parse_documents(lol) is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (5, 5.0),
        ("5", 5.0),
        (" 1e2 ", 100.0),
        ("0x64", 100.0),
        ("1_000", 1000.0),
        (True, None),
        ("5%", None),
        ("1:40", None),
        ({"value": 1}, None),
    ],
)
def test_numbers_as_istio_reads_them(value: object, expected: float | None) -> None:
    assert number(value) == expected


def _knob(kind: str, value: object) -> tuple[str, dict]:
    """One sampling value, set through one knob."""
    mesh = {"defaultConfig": {"tracing": {"sampling": value}}}
    if kind == "telemetry":
        return V1, _telemetry(value)  # type: ignore[arg-type]
    if kind == "mesh-text":
        return "kubernetes:core/v1:ConfigMap", {"data": {"mesh": yaml.safe_dump(mesh)}}
    if kind == "annotation":
        config = yaml.safe_dump(mesh["defaultConfig"])
        pod = {"metadata": {"annotations": {"proxy.istio.io/config": config}}}
        return "kubernetes:apps/v1:Deployment", {"spec": {"template": pod}}
    if kind == "env":
        env = [{"name": "PILOT_TRACE_SAMPLING", "value": str(value)}]
        return "kubernetes:apps/v1:DeploymentPatch", {"spec": {"containers": [{"env": env}]}}
    return RELEASE, {"chart": "istiod", "values": {"traceSampling": value}}


@given(
    value=st.floats(allow_nan=True, allow_infinity=True) | st.integers(-(10**6), 10**6),
    kind=st.sampled_from(["telemetry", "mesh-text", "annotation", "env", "helm"]),
    cap=st.sampled_from([0.0, 0.5, 1.0, 5.0]),
)
def test_a_sampling_value_is_refused_exactly_when_it_is_not_provably_within_the_cap(
    value: float, kind: str, cap: float
) -> None:
    resource_type, props = _knob(kind, value)
    found = telemetry_violations(resource_type, "r", props, cap) + legacy_sampling_violations(
        resource_type, "r", props, cap
    )
    provable = math.isfinite(value) and value <= cap
    assert (found == []) is provable, found
