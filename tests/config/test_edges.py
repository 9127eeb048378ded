"""Configuration enters at two edges, a stack's config and a component's args: each validates
once, and a mistake reads the same whichever edge it enters by."""

from __future__ import annotations

import typing
from collections import Counter
from typing import Any

import pulumi
import pytest
from pydantic import BaseModel

from mesh_tracing import ConfigError, IstioTracing, Jaeger, Kiali, MeshObservability
from mesh_tracing import args as component_args
from mesh_tracing import config as config_package
from mesh_tracing.config import parse_stack_config
from mesh_tracing.config.defaults import DEFAULTED_KEYS, ENVIRONMENT_DEFAULTS
from mesh_tracing.config.fields import nested_model
from mesh_tracing.plan.evaluate import evaluate
from support import NS, STACKS, stack_config

CONFIG_MODELS = [
    value
    for value in vars(config_package).values()
    if isinstance(value, type) and issubclass(value, BaseModel) and value is not BaseModel
]

# Each TypedDict that other languages see, and the model that validates it.
ARGS_MODELS: list[tuple[type, type[BaseModel]]] = [
    (component_args.MeshObservabilityArgs, config_package.StackConfig),
    (component_args.JaegerArgs, config_package.JaegerComponentConfig),
    (component_args.IstioTracingArgs, config_package.IstioTracingComponentConfig),
    (component_args.PrometheusArgs, config_package.PrometheusComponentConfig),
    (component_args.KialiArgs, config_package.KialiComponentConfig),
]


@pytest.fixture
def validations(monkeypatch: pytest.MonkeyPatch) -> Counter:
    """How often each config model is validated from the outside."""
    counts: Counter = Counter()
    for model in CONFIG_MODELS:
        original = model.model_validate.__func__  # type: ignore[attr-defined]

        def counting(cls: type, *args: Any, _original: Any = original, **kwargs: Any) -> Any:
            counts[cls.__name__] += 1
            return _original(cls, *args, **kwargs)

        monkeypatch.setattr(model, "model_validate", classmethod(counting))
    return counts


@pytest.mark.parametrize("stack", STACKS)
def test_a_stack_evaluation_validates_its_config_exactly_once(
    stack: str, validations: Counter
) -> None:
    result = evaluate(stack, stack_config(stack))
    assert result.resources
    assert validations == Counter({"StackConfig": 1})


def test_a_component_used_alone_validates_its_args_exactly_once(validations: Counter) -> None:
    def program() -> None:
        Jaeger("jaeger", {"environment": "dev"})
        MeshObservability("mesh", {"environment": "dev", "tracing": {"sampling": 1}})

    assert evaluate("consumer", {}, program=program).resources
    assert validations == Counter({"JaegerComponentConfig": 1, "StackConfig": 1})


def _problems_of(run: Any) -> list[tuple[str, str, str, str]]:
    try:
        run()
    except ConfigError as error:
        return sorted(
            (problem.key.removeprefix(NS), problem.value, problem.reason, problem.allowed)
            for problem in error.problems
        )
    raise AssertionError("no ConfigError")


def _through_component(component: type, args: dict[str, Any]) -> Any:
    def program() -> None:
        component("c", args)

    def run() -> None:
        result = evaluate("consumer", {}, program=program, raise_errors=False)
        assert result.resources == [], "a component registered something despite bad args"
        raise result.error  # type: ignore[misc]

    return run


WIRING = {"otlp_service_host": "jaeger.observability", "otlp_port": 4317}
MISTAKES = [
    pytest.param(
        {"tracing": {"sampling": 3}, "istio": {"own_mesh_default": False}},
        IstioTracing,
        WIRING,
        id="ownership",
    ),
    pytest.param(
        {"tracing": {"sampling": 7, "namespaces": {"istio-system": 9}}, "istio": {}},
        IstioTracing,
        WIRING,
        id="root-namespace-override",
    ),
    pytest.param(
        {
            "tracing": {"sampling": 1},
            "jaeger": {"storage": "memory", "replicas": 3, "badger": {"volume_size": "x"}},
        },
        Jaeger,
        {},
        id="jaeger-field-and-rule",
    ),
    pytest.param(
        {"tracing": {"sampling": 1}, "kiali": {"auth": "openid", "replicas": 0}},
        Kiali,
        {"jaeger_query_url": "http://j:16685", "prometheus_url": "http://p"},
        id="kiali-field-and-rule",
    ),
]


@pytest.mark.parametrize(("sections", "component", "wiring"), MISTAKES)
@pytest.mark.parametrize("environment", ["dev", "prod"])
def test_the_same_mistake_reads_the_same_at_every_edge(
    sections: dict[str, Any], component: type, wiring: dict[str, Any], environment: str
) -> None:
    whole = {"environment": environment, **sections}
    from_stack = _problems_of(lambda: parse_stack_config("s", whole))
    from_mesh = _problems_of(_through_component(MeshObservability, whole))
    own_sections = {
        key: value
        for key, value in whole.items()
        if key in component.__init__.__annotations__["args"].__annotations__
    }
    from_component = _problems_of(_through_component(component, {**own_sections, **wiring}))
    assert from_stack == from_mesh
    # The component sees only its own sections: its problems are the stack's for those sections.
    assert from_component == [
        problem for problem in from_stack if problem[0].split(".")[0] in own_sections
    ]
    assert from_component


@pytest.mark.parametrize(
    ("component", "args", "missing"),
    [
        (
            IstioTracing,
            {"environment": "dev", "tracing": {"sampling": 1}, "otlp_port": 4317},
            "otlp_service_host",
        ),
        (
            Kiali,
            {"environment": "dev", "prometheus_url": "http://prometheus:9090"},
            "jaeger_query_url",
        ),
    ],
)
def test_a_missing_required_argument_is_a_clear_error(
    component: type, args: dict[str, Any], missing: str
) -> None:
    problems = _problems_of(_through_component(component, args))
    assert (missing, "(not set)", "required") in [problem[:3] for problem in problems]


def test_a_pulumi_output_is_refused_where_a_setting_decides_which_resources_exist() -> None:
    def program() -> None:
        Jaeger(
            "jaeger", {"environment": "dev", "jaeger": {"replicas": pulumi.Output.from_input(1)}}
        )

    result = evaluate("consumer", {}, program=program, raise_errors=False)
    assert isinstance(result.error, ConfigError)
    (problem,) = result.error.problems
    assert (problem.key, problem.value, problem.allowed) == (
        "jaeger.replicas",
        "(pulumi output)",
        "a plain value",
    )


def _required_keys(typed_dict: type) -> set[str]:
    return set(typed_dict.__required_keys__)  # type: ignore[attr-defined]


def _args_pairs() -> list[tuple[str, type, type[BaseModel], tuple[str, ...]]]:
    """Every (TypedDict, model) pair, nested settings included, with the section it sits in."""
    pairs = []

    def walk(typed_dict: type, model: type[BaseModel], path: tuple[str, ...]) -> None:
        pairs.append((".".join(path) or typed_dict.__name__, typed_dict, model, path))
        hints = typed_dict.__annotations__
        for name, field in model.model_fields.items():
            nested = nested_model(field.annotation)
            if nested is not None and name in hints:
                inner = hints[name]
                while typing.get_origin(inner) is not None:  # Required[...], Optional[...]
                    inner = next(a for a in typing.get_args(inner) if a is not type(None))
                walk(inner, nested, (*path, name))

    for typed_dict, model in ARGS_MODELS:
        walk(typed_dict, model, (typed_dict.__name__,))
    return pairs


@pytest.mark.parametrize(
    ("typed_dict", "model", "path"),
    [pytest.param(t, m, p, id=label) for label, t, m, p in _args_pairs()],
)
def test_component_args_and_config_models_have_the_same_keys(
    typed_dict: type, model: type[BaseModel], path: tuple[str, ...]
) -> None:
    keys = set(typed_dict.__annotations__)
    assert keys == set(model.model_fields), f"{typed_dict.__name__} and {model.__name__} differ"
    section = path[1] if len(path) > 1 else None
    sections_with_defaults = set(ENVIRONMENT_DEFAULTS["dev"])
    required_by_model = {
        name
        for name, field in model.model_fields.items()
        if field.is_required()
        and (section, name) not in DEFAULTED_KEYS
        and not (section is None and name in sections_with_defaults)
    }
    assert _required_keys(typed_dict) == required_by_model
