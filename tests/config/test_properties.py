"""Property-based checks of the production sampling cap."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mesh_tracing.config import ConfigError, load_stack_config

PROD = {
    "environment": "prod",
    "jaeger": {"elasticsearch": {"url": "https://es.example:9200", "existing_secret": "es"}},
    "prometheus": {"url": "http://prometheus.monitoring:9090"},
}

any_percentage = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**6), max_value=10**6),
    st.decimals(min_value=0, max_value=100, places=2).map(float),
)
above_cap = st.one_of(
    st.floats(min_value=5, max_value=1e9, exclude_min=True, allow_nan=False),
    st.integers(min_value=6, max_value=10**9),
    st.integers(min_value=501, max_value=10_000).map(lambda hundredths: hundredths / 100),
)
namespace_names = st.from_regex(r"[a-z][a-z0-9-]{0,20}[a-z0-9]", fullmatch=True).filter(
    lambda name: name != "istio-system"
)


def _prod(mesh: float, namespaces: dict[str, float]) -> dict:
    return {**PROD, "tracing": {"sampling": mesh, "namespaces": namespaces}}


def _effective(raw: dict) -> list[float]:
    settings = load_stack_config("prod", raw)
    return list(settings.sampling_percent_by_namespace().values())


@settings(max_examples=300, deadline=None)
@given(
    mesh=any_percentage,
    namespaces=st.dictionaries(namespace_names, any_percentage, max_size=4),
)
def test_no_accepted_prod_config_samples_above_five(mesh: float, namespaces: dict) -> None:
    try:
        accepted = _effective(_prod(mesh, namespaces))
    except ConfigError:
        return
    assert all(0 <= value <= 5 and math.isfinite(value) for value in accepted)


@settings(max_examples=200, deadline=None)
@given(
    too_high=above_cap,
    where=st.sampled_from(["mesh", "namespace"]),
    name=namespace_names,
)
def test_any_prod_percentage_above_five_is_refused(too_high: float, where: str, name: str) -> None:
    raw = _prod(too_high, {}) if where == "mesh" else _prod(1, {name: too_high})
    with pytest.raises(ConfigError) as caught:
        load_stack_config("prod", raw)
    key = (
        "mesh-tracing:tracing.sampling"
        if where == "mesh"
        else (f"mesh-tracing:tracing.namespaces.{name}")
    )
    assert key in {problem.key for problem in caught.value.problems}


@settings(max_examples=200, deadline=None)
@given(hundredths=st.integers(min_value=0, max_value=500))
def test_every_prod_percentage_up_to_five_on_the_grid_is_accepted(hundredths: int) -> None:
    value = hundredths / 100
    assert _effective(_prod(value, {"payments": value})) == [value, value]
