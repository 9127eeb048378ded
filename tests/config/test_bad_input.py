"""Bad input over the whole stack config, every key: one clear error each, nothing registered."""

from __future__ import annotations

import copy
import math
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mesh_tracing.config import ConfigError, StackConfig, load_stack_config, nested_model
from mesh_tracing.config.fields import Allowed
from mesh_tracing.plan.evaluate import evaluate

NS = "mesh-tracing:"
SECRET_SECTIONS = (f"{NS}jaeger", f"{NS}kiali")

BASE = {"environment": "dev", "tracing": {"sampling": 1}}
# Sections that are only valid together with a setting elsewhere get a base that makes them so.
BASES = {
    "jaeger.elasticsearch": {
        **BASE,
        "jaeger": {
            "storage": "elasticsearch",
            "elasticsearch": {"url": "https://es:9200", "username": "jaeger", "password": "pw"},
        },
    },
    "jaeger.opensearch": {
        **BASE,
        "jaeger": {
            "storage": "opensearch",
            "opensearch": {"url": "https://os:9200", "username": "jaeger", "password": "pw"},
        },
    },
    "kiali.openid": {
        **BASE,
        "kiali": {
            "auth": "openid",
            "openid": {"issuer_uri": "https://idp", "client_id": "kiali", "client_secret": "s"},
        },
    },
    "prometheus.url": {**BASE, "prometheus": {"install": False, "url": "http://p:9090"}},
    "tracing.gateways[0]": {
        **BASE,
        "tracing": {"sampling": 1, "gateways": [{"namespace": "istio-ingress", "sampling": 1}]},
    },
}

HUGE = "x" * 5000
BAD_VALUES: dict[str, list[Any]] = {
    "float": ["ten", True, None, [], {}, math.nan, math.inf, -math.inf, -0.5, 100.5, 0.001],
    "int": ["3", 1.5, True, None, [], 0, -1, 10**12],
    "bool": ["true", 1, 0, None, "yes"],
    "name": ["", " ", "Has_Upper", "-leading", "a" * 64, HUGE, 5, None, ["x"]],
    "object-name": ["", "UPPER", "a" * 254, 7],
    "text": ["", "   ", HUGE, 3],
    "url": ["", "example.com", "ftp://example.com", "http://", "https://" + HUGE, 80],
    "quantity": ["", "ten", "10 GB", "-1Gi", 10],
    "duration": ["", "3 days", "72", 72],
    "prometheus-duration": ["", "15 days", "1.5d", 15],
    "path": ["", "jaeger", "/with space", "/a//b", 1],
    "secret": [5, True, [], {}],
    "chart-source": ["", "/no/such/dir", "ftp://charts.example.com", "https://", "oci://", 5],
    "registry": ["", "https://registry.example.com", "Registry.Example.com", "reg.example.com/", 5],
    "selector": ["", [], {}, 5, "istio=ingressgateway"],
    "choice": ["", "nope", 1, None],
    "names": ["observability", [1], ["Bad_Name"], [""]],
    "texts": ["openid", [1], [""]],
    "namespace-map": ["shop", [], {"Bad_NS": 1}, {"shop": "1"}, {"shop": 101}],
}


_KIND_BY_NOUN = {
    "sampling percentage": "float",
    "namespace name": "name",
    "object name": "object-name",
    "URL": "url",
    "quantity": "quantity",
    "path": "path",
    "text": "text",
    "secret": "secret",
    "chart source": "chart-source",
    "registry": "registry",
    "selector": "selector",
}


def _allowed_marker(annotation: Any, metadata: list[Any]) -> Allowed | None:
    for item in metadata:
        if isinstance(item, Allowed):
            return item
    if get_origin(annotation) is Annotated:
        inner, *extras = get_args(annotation)
        return _allowed_marker(inner, extras)
    for argument in get_args(annotation):
        found = _allowed_marker(argument, [])
        if found is not None:
            return found
    return None


def _kind(path: str, typed: Any) -> str:
    annotation, metadata = typed
    leaf = path.rsplit(".", 1)[-1]
    if path == "tracing.namespaces":
        return "namespace-map"
    optional = get_origin(annotation) in (Union, UnionType)
    base = next(a for a in get_args(annotation) if a is not type(None)) if optional else annotation
    if get_origin(base) is Literal:
        return "choice"
    if base is bool:
        return "bool"
    if base is int:
        return "int"
    if get_origin(base) is list:
        return "names" if leaf == "query_ingress_namespaces" else "texts"
    marker = _allowed_marker(annotation, list(metadata))
    if marker is not None and marker.noun == "duration":
        return "prometheus-duration" if "Prometheus" in marker.text else "duration"
    if marker is not None and marker.noun in _KIND_BY_NOUN:
        return _KIND_BY_NOUN[marker.noun]
    raise AssertionError(f"no bad values for {path}: {annotation!r}")


def _item_path(path: str, annotation: Any) -> str:
    """A list of objects is addressed through its first item: `tracing.gateways[0]`."""
    return f"{path}[0]" if get_origin(annotation) is list else path


def _leaves(model: type, prefix: str = "") -> list[tuple[str, Any]]:
    found = []
    for name, field in model.model_fields.items():
        nested = nested_model(field.annotation)
        path = prefix + name
        if nested is not None and name != "namespaces":
            found.extend(_leaves(nested, _item_path(path, field.annotation) + "."))
        elif path != "environment":
            # pydantic moves a top-level Annotated's validators into the field's metadata.
            found.append((path, (field.annotation, field.metadata)))
    return found


def _objects(model: type, prefix: str = "") -> list[str]:
    paths = [prefix.rstrip(".")] if prefix else [""]
    for name, field in model.model_fields.items():
        nested = nested_model(field.annotation)
        if nested is not None and name != "namespaces":
            paths.extend(_objects(nested, _item_path(prefix + name, field.annotation) + "."))
    return paths


def _base_for(path: str) -> dict[str, Any]:
    for prefix, base in BASES.items():
        if path == prefix or path.startswith(prefix + "."):
            return copy.deepcopy(base)
    return copy.deepcopy(BASE)


def _set(raw: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    *parents, leaf = path.split(".")
    node = raw
    for part in parents:
        if part.endswith("[0]"):
            node = node[part.removesuffix("[0]")][0]
        else:
            node = node.setdefault(part, {})
    node[leaf] = value
    return raw


LIST_KINDS = ("names", "texts")
CASES = [
    pytest.param(path, value, id=f"{path}={str(value)[:20]!r}")
    for path, annotation in _leaves(StackConfig)
    for value in BAD_VALUES[_kind(path, annotation)]
    # `None` means "unset" for optional keys, which is valid.
    if not (value is None and type(None) in get_args(annotation[0]))
]
UNKNOWN_KEY_CASES = [pytest.param(path, id=path or "<top>") for path in _objects(StackConfig)]


def _stack_config(raw: dict[str, Any]) -> dict[str, Any]:
    return {NS + key: value for key, value in raw.items()}


def _single_problem(raw: dict[str, Any], key: str) -> Any:
    with pytest.raises(ConfigError) as caught:
        load_stack_config("fuzzed", raw, SECRET_SECTIONS)
    problems = caught.value.problems
    matching = [p for p in problems if p.key == key]
    assert len(matching) == 1, problems
    problem = matching[0]
    assert problem.value and problem.reason and problem.allowed, problem
    message = str(caught.value)
    # Our words, not the validation library's ("Input should be a valid dictionary ...").
    assert "Input should" not in message and "instance of" not in message
    assert message.startswith("stack 'fuzzed' has invalid mesh-tracing configuration:")
    assert len(message) < 2000 + 400 * len(problems), "errors stay readable even for huge values"
    return problem


@pytest.mark.parametrize(("path", "value"), CASES)
def test_every_key_refuses_bad_values_with_one_clear_error(path: str, value: Any) -> None:
    raw = _set(_base_for(path), path, value)
    if path.rsplit(".", 1)[-1] == "namespaces":
        key = _namespace_key(raw, path)
    elif (
        isinstance(value, list)
        and value
        and _kind(path, dict(_leaves(StackConfig))[path]) in (LIST_KINDS)
    ):
        key = f"{NS}{path}[0]"
    else:
        key = NS + path
    problem = _single_problem(raw, key)
    assert len(problem.value) <= 200


def _namespace_key(raw: dict[str, Any], path: str) -> str:
    value = raw["tracing"]["namespaces"]
    if isinstance(value, dict) and value:
        return f"{NS}{path}.{next(iter(value))}"
    return NS + path


@pytest.mark.parametrize("path", UNKNOWN_KEY_CASES)
def test_unknown_keys_are_refused_at_every_level(path: str) -> None:
    target = f"{path}.bogus_key" if path else "bogus_key"
    raw = _set(_base_for(target), target, 1)
    problem = _single_problem(raw, NS + target)
    assert problem.reason == "unknown key"
    assert problem.allowed.startswith("one of: ")


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        (
            {
                "environment": "prod",
                "tracing": {"sampling": 1},
                "prometheus": {"url": "http://p:9090"},
            },
            "jaeger.elasticsearch.url",
        ),
        (
            {
                "environment": "prod",
                "tracing": {"sampling": 1},
                "prometheus": {"url": "http://p:9090"},
                "jaeger": {"elasticsearch": {"url": "https://es:9200"}},
            },
            "jaeger.elasticsearch.password",
        ),
        (
            {
                "environment": "prod",
                "tracing": {"sampling": 1},
                "prometheus": {"url": "http://p:9090"},
                "jaeger": {"storage": "opensearch", "opensearch": {"url": "https://os:9200"}},
            },
            "jaeger.opensearch.password",
        ),
        (
            {
                "environment": "prod",
                "tracing": {"sampling": 1},
                "prometheus": {"url": "http://p:9090"},
                "jaeger": {"elasticsearch": {"url": "https://es:9200", "username": "u"}},
            },
            "jaeger.elasticsearch.password",
        ),
    ],
)
def test_prod_without_storage_endpoint_or_credentials(raw: dict[str, Any], key: str) -> None:
    _single_problem(raw, NS + key)


@pytest.mark.parametrize(
    ("path", "value"),
    [*CASES[::7], pytest.param("tracing.sampling", math.nan, id="nan-through-the-program")],
)
def test_bad_input_registers_nothing(path: str, value: Any) -> None:
    raw = _set(_base_for(path), path, value)
    result = evaluate("fuzzed", _stack_config(raw), SECRET_SECTIONS, raise_errors=False)
    assert result.error is not None
    assert "has invalid mesh-tracing configuration" in str(result.error)
    assert result.resources == []


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)
KNOWN_KEYS = sorted({path.split(".")[0] for path, _ in _leaves(StackConfig)} | {"environment"})


def _maybe_known(depth: int) -> st.SearchStrategy[Any]:
    keys = st.sampled_from(
        [
            *KNOWN_KEYS,
            "sampling",
            "namespaces",
            "storage",
            "url",
            "auth",
            "install",
            "replicas",
            "elasticsearch",
            "openid",
        ]
    )
    if depth == 0:
        return json_values
    return st.one_of(json_values, st.dictionaries(keys, _maybe_known(depth - 1), max_size=6))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    raw=st.dictionaries(st.sampled_from([*KNOWN_KEYS, "other"]), _maybe_known(2), max_size=7),
    environment=st.sampled_from(["dev", "staging", "prod", "qa", ""]) | json_values,
)
def test_fuzz_the_config_model_finds_only_our_own_errors(raw: dict, environment: Any) -> None:
    raw = {**raw, "environment": environment}
    try:
        settings_ = load_stack_config("fuzzed", raw, SECRET_SECTIONS)
    except ConfigError as error:
        assert error.problems
        for problem in error.problems:
            assert problem.key.startswith(NS) and problem.value and problem.allowed
        return
    assert settings_.environment in ("dev", "staging", "prod")
    assert all(0 <= value <= 100 for value in settings_.sampling_percent_by_namespace().values())
    if settings_.environment == "prod":
        assert max(settings_.sampling_percent_by_namespace().values(), default=0) <= 5
