"""Sampling where Istio decides it: each gateway's own Telemetry, outputs that say what each
number governs, warnings where a number cannot act, and gateways that drop client trace
context in production."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from mesh_tracing import ConfigError, IstioTracing
from mesh_tracing.config import parse_stack_config
from mesh_tracing.plan.evaluate import evaluate
from mesh_tracing.specs.gateways import UNTRUSTED_TRACE_HEADERS
from support import NS, evaluated, stack_config, telemetries
from tracing_policies import telemetry_violations

ENVOY_FILTER = "kubernetes:networking.istio.io/v1alpha3:EnvoyFilter"
GATEWAY = {"namespace": "istio-ingress", "sampling": 1}


def _with_tracing(stack: str, **tracing: Any) -> dict[str, Any]:
    config = stack_config(stack)
    config[f"{NS}tracing"] = {**config[f"{NS}tracing"], **tracing}
    return config


def test_the_prod_gateway_gets_a_telemetry_selecting_its_pods() -> None:
    (gateway,) = [t for t in telemetries(evaluated("prod")) if "selector" in t["spec"]]
    assert gateway["metadata"] == {
        "name": "mesh-tracing-gateway-ingressgateway",
        "namespace": "istio-ingress",
        "annotations": {"pulumi.com/patchForce": "true"},
    }
    assert gateway["spec"] == {
        "selector": {"matchLabels": {"istio": "ingressgateway"}},
        "tracing": [{"providers": [{"name": "jaeger-otlp"}], "randomSamplingPercentage": 1}],
    }


def test_outputs_say_what_each_number_governs() -> None:
    outputs = evaluated("prod").outputs
    assert outputs["trace_start_sampling_percent"] == {"*": 1, "batch-jobs": 0.1, "payments": 5}
    assert outputs["gateway_sampling_percent"] == {"istio-ingress/istio=ingressgateway": 1}
    # Deprecated, kept one release: the same numbers under the root namespace's name.
    assert outputs["sampling_percent_by_namespace"]["istio-system"] == 1


def test_an_override_above_every_gateway_is_warned_about_once_with_both_values() -> None:
    assert evaluated("prod").warnings == [
        "tracing.namespaces.payments = 5 is above the sampling of every gateway (the highest, "
        "istio-ingress/istio=ingressgateway, samples 1): it decides only for traces that start "
        "in payments; requests entering through a gateway keep the gateway's decision"
    ]


def test_no_warning_where_the_numbers_act_as_written() -> None:
    config = _with_tracing("prod", namespaces={"payments": 1, "batch-jobs": 0.1})
    assert evaluate("prod", config).warnings == []
    assert evaluated("dev").warnings == [] and evaluated("staging").warnings == []


def test_a_production_stack_without_gateways_is_warned_about() -> None:
    config = stack_config("prod")
    tracing = dict(config[f"{NS}tracing"])
    del tracing["gateways"]
    config[f"{NS}tracing"] = tracing
    (warning,) = evaluate("prod", config).warnings
    assert warning.startswith("no tracing.gateways in a production stack")
    assert "mesh-wide tracing.sampling (1)" in warning


def test_production_gateways_drop_client_trace_context_by_default() -> None:
    (envoy_filter,) = evaluated("prod").of_type(ENVOY_FILTER)
    spec = envoy_filter.inputs["spec"]
    assert envoy_filter.inputs["metadata"]["namespace"] == "istio-ingress"
    assert spec["workloadSelector"] == {"labels": {"istio": "ingressgateway"}}
    (patch,) = spec["configPatches"]
    assert patch["applyTo"] == "NETWORK_FILTER" and patch["match"]["context"] == "GATEWAY"
    manager = patch["patch"]["value"]["typed_config"]
    (early,) = manager["early_header_mutation_extensions"]
    removed = {mutation["remove"] for mutation in early["typed_config"]["mutations"]}
    assert removed == set(UNTRUSTED_TRACE_HEADERS)
    assert {"traceparent", "x-client-trace-id", "x-b3-sampled", "b3"} <= removed


@pytest.mark.parametrize(
    ("stack", "trust", "filters"),
    [("prod", True, 0), ("prod", None, 1), ("dev", None, 0), ("dev", False, 1)],
)
def test_trusting_client_trace_context_is_a_choice(
    stack: str, trust: bool | None, filters: int
) -> None:
    gateway = {**GATEWAY, **({} if trust is None else {"trust_client_trace_context": trust})}
    config = _with_tracing(stack, gateways=[gateway])
    assert len(evaluate(stack, config).of_type(ENVOY_FILTER)) == filters


@pytest.mark.parametrize(
    ("gateways", "key", "reason"),
    [
        ([GATEWAY, GATEWAY], "tracing.gateways[1]", "the same gateway as tracing.gateways[0]"),
        (
            [GATEWAY, {**GATEWAY, "selector": {"app": "ingressgateway"}}],
            "tracing.gateways[1].selector",
            "its Telemetry would be named mesh-tracing-gateway-ingressgateway",
        ),
        ([{**GATEWAY, "selector": {}}], "tracing.gateways[0].selector", "empty selector"),
        (
            [{**GATEWAY, "selector": {"app": "not valid!"}}],
            "tracing.gateways[0].selector.app",
            "not a valid label value",
        ),
        ([{**GATEWAY, "sampling": 6}], "tracing.gateways[0].sampling", "at most 5 percent"),
        ([{"namespace": "istio-ingress"}], "tracing.gateways[0].sampling", "required"),
    ],
)
def test_gateway_mistakes(gateways: list[dict[str, Any]], key: str, reason: str) -> None:
    raw = {
        "environment": "prod",
        "tracing": {"sampling": 1, "gateways": copy.deepcopy(gateways)},
        "jaeger": {"elasticsearch": {"url": "https://es:9200", "existing_secret": "es"}},
        "prometheus": {"url": "http://prometheus:9090"},
    }
    with pytest.raises(ConfigError) as caught:
        parse_stack_config("prod", raw)
    problems = {problem.key: problem for problem in caught.value.problems}
    assert reason in problems[f"{NS}{key}"].reason


def test_a_component_used_alone_takes_gateways_too() -> None:
    def program() -> None:
        IstioTracing(
            "team",
            {
                "environment": "prod",
                "tracing": {"sampling": 1, "gateways": [GATEWAY]},
                "istio": {"install": False},
                "otlp_service_host": "jaeger.observability.svc.cluster.local",
                "otlp_port": 4317,
            },
        )

    result = evaluate("consumer", {}, program=program)
    assert len(result.of_type(ENVOY_FILTER)) == 1
    assert len([t for t in telemetries(result) if "selector" in t["spec"]]) == 1


def test_the_policy_pack_judges_a_gateway_telemetry_like_any_other() -> None:
    (gateway,) = [
        resource
        for resource in evaluated("prod").of_type("kubernetes:telemetry.istio.io/v1:Telemetry")
        if "selector" in resource.inputs["spec"]
    ]
    props = copy.deepcopy(gateway.inputs)
    assert telemetry_violations(gateway.type, gateway.name, props, 5.0) == []
    props["spec"]["tracing"][0]["randomSamplingPercentage"] = 5.01
    (violation,) = telemetry_violations(gateway.type, gateway.name, props, 5.0)
    assert "5.01 is above the production cap" in violation
