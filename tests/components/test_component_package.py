"""The components as a multi-language component package: inferred schema and provider host."""

from __future__ import annotations

import json
import select
import subprocess
import sys

import grpc
import pytest
from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

from mesh_tracing import args as component_args
from mesh_tracing.provider import COMPONENTS, PACKAGE_NAME, package_schema
from support import PROJECT_DIR

ARGS_TYPES = {
    "MeshObservability": component_args.MeshObservabilityArgs,
    "Jaeger": component_args.JaegerArgs,
    "IstioTracing": component_args.IstioTracingArgs,
    "Prometheus": component_args.PrometheusArgs,
    "Kiali": component_args.KialiArgs,
}


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


@pytest.fixture(scope="module")
def schema() -> dict:
    return package_schema()


def test_every_component_is_in_the_schema_under_its_token(schema: dict) -> None:
    assert schema["name"] == PACKAGE_NAME
    assert set(schema["resources"]) == {
        f"mesh-tracing:index:{component.__name__}" for component in COMPONENTS
    }
    for resource in schema["resources"].values():
        assert resource["isComponent"] is True
        assert resource["description"].strip()


@pytest.mark.parametrize("component", sorted(ARGS_TYPES))
def test_inputs_match_the_args_type_and_are_described(schema: dict, component: str) -> None:
    resource = schema["resources"][f"mesh-tracing:index:{component}"]
    args_type = ARGS_TYPES[component]
    keys = args_type.__required_keys__ | args_type.__optional_keys__
    assert set(resource["inputProperties"]) == {_camel(key) for key in keys}
    assert set(resource.get("requiredInputs", [])) == {
        _camel(key) for key in args_type.__required_keys__
    }
    for name, prop in resource["inputProperties"].items():
        assert prop.get("description", "").strip(), f"{component}.{name}"


@pytest.mark.parametrize("component", COMPONENTS, ids=lambda c: c.__name__)
def test_outputs_match_the_typed_attributes_and_are_described(schema: dict, component) -> None:
    resource = schema["resources"][f"mesh-tracing:index:{component.__name__}"]
    outputs = {
        name for name, hint in vars(component)["__annotations__"].items() if "Output" in str(hint)
    }
    assert outputs
    assert set(resource["properties"]) == {_camel(name) for name in outputs}
    for name, prop in resource["properties"].items():
        assert prop.get("description", "").strip(), f"{component.__name__}.{name}"


def test_nested_settings_types_are_described(schema: dict) -> None:
    assert "mesh-tracing:index:TracingSettings" in schema["types"]
    for token, definition in schema["types"].items():
        assert definition.get("description", "").strip(), token
        for name, prop in definition["properties"].items():
            assert prop.get("description", "").strip(), f"{token}.{name}"
    tracing = schema["types"]["mesh-tracing:index:TracingSettings"]
    assert tracing["properties"]["sampling"]["type"] == "number"
    assert tracing["properties"]["namespaces"]["additionalProperties"]["type"] == "number"


def test_credentials_may_be_outputs_in_other_languages(schema: dict) -> None:
    store = schema["types"]["mesh-tracing:index:SearchStoreSettings"]["properties"]
    assert "plain" not in store["password"]
    assert store["url"].get("plain") is True


def test_the_provider_host_serves_the_same_schema(schema: dict) -> None:
    process = subprocess.Popen(
        [sys.executable, "-u", str(PROJECT_DIR / "provider" / "__main__.py"), "127.0.0.1:1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        ready, _, _ = select.select([process.stdout], [], [], 60)
        assert ready, "the provider printed no port"
        port = process.stdout.readline().strip()  # type: ignore[union-attr]
        assert port.isdigit(), process.stderr.read()  # type: ignore[union-attr]
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            grpc.channel_ready_future(channel).result(timeout=30)
            stub = provider_pb2_grpc.ResourceProviderStub(channel)
            served = json.loads(stub.GetSchema(provider_pb2.GetSchemaRequest(version=0)).schema)
    finally:
        process.terminate()
        process.wait(timeout=10)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()
    assert served["name"] == PACKAGE_NAME
    assert served["resources"] == schema["resources"]
    assert served["types"] == schema["types"]


# --- numbers from other languages -------------------------------------------------------------


def _mapped(component: str, inputs: dict) -> dict:
    from mesh_tracing.provider import _provider

    provider = _provider()
    return provider.map_inputs(inputs, provider._component_defs[component])


def test_whole_numbers_arrive_as_ints_from_the_wire() -> None:
    """Every number crosses the wire as a float: `replicas: 2` from TypeScript is 2.0."""
    mapped = _mapped(
        "Kiali",
        {
            "environment": "dev",
            "kiali": {"auth": "anonymous", "replicas": 2.0},
            "jaegerQueryUrl": "http://jaeger:16685",
            "prometheusUrl": "http://prometheus:9090",
        },
    )
    assert mapped["kiali"]["replicas"] == 2
    assert type(mapped["kiali"]["replicas"]) is int
    # Not a whole number: left for the model to refuse in our words.
    fraction = _mapped("Jaeger", {"environment": "dev", "jaeger": {"replicas": 2.5}})
    assert fraction["jaeger"]["replicas"] == 2.5


def test_an_integer_wired_from_another_output_resolves_to_an_int() -> None:
    import asyncio

    import pulumi

    async def resolved() -> object:
        port = pulumi.Output.from_input(4317.0)
        mapped = _mapped(
            "IstioTracing",
            {
                "environment": "dev",
                "tracing": {"sampling": 1},
                "otlpServiceHost": "jaeger.observability.svc.cluster.local",
                "otlpPort": port,
            },
        )
        assert isinstance(mapped["otlp_port"], pulumi.Output)
        return await mapped["otlp_port"].future()

    # Not asyncio.run: it would close the loop the Pulumi runtime of later tests runs on.
    value = asyncio.get_event_loop().run_until_complete(resolved())
    assert value == 4317 and type(value) is int
