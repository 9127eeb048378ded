"""The configuration model: defaults per environment, and one clear error per mistake."""

from __future__ import annotations

import pytest

from mesh_tracing.config import (
    ConfigError,
    StackConfig,
    load_stack_config,
)


def _load(raw: dict, stack: str = "teststack", secret_keys: tuple[str, ...] = ()) -> StackConfig:
    return load_stack_config(stack, raw, secret_keys)


def _problems(raw: dict, secret_keys: tuple[str, ...] = ()) -> list:
    with pytest.raises(ConfigError) as caught:
        _load(raw, secret_keys=secret_keys)
    assert caught.value.stack == "teststack"
    assert "stack 'teststack'" in str(caught.value)
    return caught.value.problems


PROD_BASE = {
    "environment": "prod",
    "tracing": {"sampling": 1},
    "jaeger": {
        "elasticsearch": {"url": "https://es.example:9200", "existing_secret": "es-credentials"}
    },
    "prometheus": {"url": "http://prometheus.monitoring:9090"},
}


def test_sampling_alone_is_a_complete_dev_config() -> None:
    settings = _load({"environment": "dev", "tracing": {"sampling": 42.5}})
    assert settings.tracing.sampling == 42.5
    assert settings.jaeger.storage == "memory"
    assert settings.istio.install is True
    assert settings.kiali.auth == "anonymous"
    assert settings.prometheus.install is True
    assert settings.sampling_percent_by_namespace() == {"istio-system": 42.5}


def test_staging_defaults_to_badger_and_token_login() -> None:
    settings = _load({"environment": "staging", "tracing": {"sampling": 10}})
    assert settings.jaeger.storage == "badger"
    assert settings.kiali.auth == "token"
    assert settings.istio.install is False


def test_prod_defaults_are_safe() -> None:
    settings = _load(PROD_BASE)
    assert settings.jaeger.storage == "elasticsearch"
    assert settings.jaeger.replicas == 2
    assert settings.kiali.auth == "token"
    assert settings.kiali.view_only is True


def test_stack_values_override_environment_defaults() -> None:
    settings = _load({"environment": "dev", "tracing": {"sampling": 1}, "kiali": {"auth": "token"}})
    assert settings.kiali.auth == "token"
    assert settings.kiali.view_only is False


@pytest.mark.parametrize("sampling", [0, 0.01, 4.99, 5])
def test_prod_accepts_sampling_up_to_five(sampling: float) -> None:
    raw = {**PROD_BASE, "tracing": {"sampling": sampling, "namespaces": {"payments": sampling}}}
    assert _load(raw).tracing.sampling == sampling


@pytest.mark.parametrize(
    ("raw", "key", "value", "reason", "allowed"),
    [
        (
            {"tracing": {"sampling": 1}},
            "mesh-tracing:environment",
            "(not set)",
            "required",
            "dev, staging or prod",
        ),
        (
            {"environment": "production", "tracing": {"sampling": 1}},
            "mesh-tracing:environment",
            "'production'",
            "unknown environment",
            "dev, staging or prod",
        ),
        (
            {"environment": "dev", "tracing": {"sampling": 1}, "sampler": 3},
            "mesh-tracing:sampler",
            "3",
            "unknown key",
            "one of: environment, tracing, istio, jaeger, prometheus, kiali",
        ),
        (
            {"environment": "dev", "tracing": {"sampling": 1, "rate": 2}},
            "mesh-tracing:tracing.rate",
            "2",
            "unknown key",
            "one of: sampling, namespaces, provider_name",
        ),
        (
            {"environment": "dev", "tracing": {"sampling": -0.5}},
            "mesh-tracing:tracing.sampling",
            "-0.5",
            "sampling is a percentage between 0 and 100",
            "a number from 0 to 100 in steps of 0.01",
        ),
        (
            {"environment": "dev", "tracing": {"sampling": 100.01}},
            "mesh-tracing:tracing.sampling",
            "100.01",
            "sampling is a percentage between 0 and 100",
            "a number from 0 to 100",
        ),
        (
            {"environment": "dev", "tracing": {"sampling": "ten"}},
            "mesh-tracing:tracing.sampling",
            "'ten'",
            "must be a number",
            "a number from 0 to 100",
        ),
        (
            {"environment": "dev", "tracing": {"sampling": "10"}},
            "mesh-tracing:tracing.sampling",
            "'10'",
            "must be a number",
            "a number from 0 to 100",
        ),
        (
            {"environment": "dev", "tracing": {"sampling": float("nan")}},
            "mesh-tracing:tracing.sampling",
            "nan",
            "must be a finite number",
            "a number from 0 to 100",
        ),
        (
            {"environment": "dev", "tracing": {"sampling": 0.001}},
            "mesh-tracing:tracing.sampling",
            "0.001",
            "sampling is set in steps of 0.01 percent",
            "in steps of 0.01",
        ),
        (
            {"environment": "dev", "tracing": {"sampling": True}},
            "mesh-tracing:tracing.sampling",
            "True",
            "must be a number",
            "a number from 0 to 100",
        ),
        (
            {**PROD_BASE, "tracing": {"sampling": 5.01}},
            "mesh-tracing:tracing.sampling",
            "5.01",
            "production stacks sample at most 5 percent",
            "at most 5 in prod",
        ),
        (
            {**PROD_BASE, "tracing": {"sampling": 1, "namespaces": {"payments": 20}}},
            "mesh-tracing:tracing.namespaces.payments",
            "20",
            "production stacks sample at most 5 percent",
            "at most 5 in prod",
        ),
        (
            {"environment": "dev", "tracing": {"sampling": 1, "namespaces": {"Payments_NS": 2}}},
            "mesh-tracing:tracing.namespaces.Payments_NS",
            "'Payments_NS'",
            "not a valid Kubernetes name",
            "namespace name",
        ),
        (
            {"environment": "dev", "tracing": {"sampling": 1, "namespaces": {"a" * 64: 2}}},
            "mesh-tracing:tracing.namespaces." + "a" * 64,
            "'" + "a" * 64 + "'",
            "not a valid Kubernetes name",
            "at most 63",
        ),
        (
            {"environment": "dev", "tracing": {"sampling": 1, "namespaces": {"istio-system": 2}}},
            "mesh-tracing:tracing.namespaces.istio-system",
            "2",
            "istio-system is the Istio root namespace",
            "namespaces other than the Istio root namespace",
        ),
        (
            {"environment": "staging", "tracing": {"sampling": 1}, "kiali": {"auth": "anonymous"}},
            "mesh-tracing:kiali.auth",
            "'anonymous'",
            "anonymous Kiali is for dev only, not staging",
            "token or openid outside dev",
        ),
        (
            {**PROD_BASE, "jaeger": {"storage": "memory", "replicas": 1}},
            "mesh-tracing:jaeger.storage",
            "'memory'",
            "prod keeps spans in elasticsearch or opensearch, not memory",
            "elasticsearch or opensearch in prod",
        ),
        (
            {**PROD_BASE, "jaeger": {"storage": "badger", "replicas": 1}},
            "mesh-tracing:jaeger.storage",
            "'badger'",
            "prod keeps spans in elasticsearch or opensearch, not badger",
            "elasticsearch or opensearch in prod",
        ),
        (
            {"environment": "dev", "tracing": {"sampling": 1}, "jaeger": {"replicas": 2}},
            "mesh-tracing:jaeger.replicas",
            "2",
            "memory storage lives inside one pod",
            "1 with memory storage",
        ),
        (
            {**PROD_BASE, "jaeger": {}},
            "mesh-tracing:jaeger.elasticsearch.url",
            "(not set)",
            "storage elasticsearch needs the cluster's URL",
            "an absolute http(s) URL",
        ),
        (
            {**PROD_BASE, "jaeger": {"elasticsearch": {"url": "https://es.example:9200"}}},
            "mesh-tracing:jaeger.elasticsearch.password",
            "(not set)",
            "prod needs credentials for elasticsearch",
            "username with a secret password, or existing_secret",
        ),
        (
            {**PROD_BASE, "jaeger": {"elasticsearch": {"url": "es.example:9200"}}},
            "mesh-tracing:jaeger.elasticsearch.url",
            "'es.example:9200'",
            "not an absolute http(s) URL",
            "an absolute http(s) URL",
        ),
        (
            {**PROD_BASE, "prometheus": {}},
            "mesh-tracing:prometheus.url",
            "(not set)",
            "Kiali needs a Prometheus",
            "the URL of an existing Prometheus, or install: true",
        ),
        (
            {"environment": "dev", "tracing": {"sampling": 1}, "kiali": {"auth": "openid"}},
            "mesh-tracing:kiali.openid",
            "(not set)",
            "auth openid needs the OpenID client",
            "issuer_uri, client_id, client_secret",
        ),
        (
            {"environment": "dev", "tracing": {"sampling": 1}, "jaeger": {"replicas": "1"}},
            "mesh-tracing:jaeger.replicas",
            "'1'",
            "must be a whole number",
            "a whole number from 1 to 20",
        ),
        (
            {"environment": "dev", "tracing": {"sampling": 1}, "jaeger": {"badger": {"size": 1}}},
            "mesh-tracing:jaeger.badger.size",
            "1",
            "unknown key",
            "one of: volume_size, storage_class, span_retention",
        ),
        (
            {"environment": "dev", "tracing": {"sampling": 1}, "tracing_": 1},
            "mesh-tracing:tracing_",
            "1",
            "unknown key",
            "one of:",
        ),
        (
            {"environment": "dev"},
            "mesh-tracing:tracing",
            "(not set)",
            "required",
            "an object with sampling, namespaces, provider_name",
        ),
        (
            {"environment": "dev", "tracing": {}},
            "mesh-tracing:tracing.sampling",
            "(not set)",
            "required",
            "a number from 0 to 100",
        ),
    ],
    ids=lambda value: str(value)[:40] if isinstance(value, str) else None,
)
def test_each_mistake_gets_one_clear_error(
    raw: dict, key: str, value: str, reason: str, allowed: str
) -> None:
    problems = _problems(raw)
    matching = [problem for problem in problems if problem.key == key]
    assert len(matching) == 1, problems
    problem = matching[0]
    assert problem.value == value
    assert reason in problem.reason
    assert allowed in problem.allowed
    assert f"{key} = {value}" in str(problem)


def test_every_problem_is_reported_at_once() -> None:
    raw = {"environment": "prod", "tracing": {"sampling": 50, "namespaces": {"a": 9, "b": 1}}}
    keys = {problem.key for problem in _problems(raw)}
    assert {"mesh-tracing:tracing.sampling", "mesh-tracing:tracing.namespaces.a"} <= keys
    assert "mesh-tracing:tracing.namespaces.b" not in keys


def test_plain_text_credentials_are_refused() -> None:
    raw = {
        **PROD_BASE,
        "jaeger": {
            "elasticsearch": {"url": "https://es:9200", "username": "jaeger", "password": "hunter2"}
        },
    }
    problems = _problems(raw)
    assert [problem.key for problem in problems] == ["mesh-tracing:jaeger.elasticsearch.password"]
    assert "hunter2" not in str(problems[0])
    assert "pulumi config set --secret --path" in problems[0].allowed
    settings = _load(raw, secret_keys=("mesh-tracing:jaeger",))
    assert settings.jaeger.elasticsearch is not None
    assert settings.jaeger.elasticsearch.password.get_secret_value() == "hunter2"
    assert "hunter2" not in repr(settings)


def test_credentials_never_appear_in_errors() -> None:
    raw = {
        **PROD_BASE,
        "jaeger": {"elasticsearch": {"url": "https://es:9200", "password": "hunter2"}},
    }
    with pytest.raises(ConfigError) as caught:
        _load(raw, secret_keys=("mesh-tracing:jaeger",))
    assert "hunter2" not in str(caught.value)
    assert "mesh-tracing:jaeger.elasticsearch.username" in str(caught.value)


def test_a_stack_may_leave_the_mesh_default_to_another_stack() -> None:
    raw = {
        "environment": "staging",
        "tracing": {"namespaces": {"shop": 20}},
        "istio": {"own_mesh_default": False},
    }
    assert _load(raw).sampling_percent_by_namespace() == {"shop": 20}


@pytest.mark.parametrize(
    ("tracing", "istio", "key", "reason"),
    [
        ({"namespaces": {"shop": 1}}, {}, "mesh-tracing:tracing.sampling", "required"),
        (
            {"sampling": 1, "namespaces": {"shop": 1}},
            {"own_mesh_default": False},
            "mesh-tracing:tracing.sampling",
            "not used",
        ),
        ({}, {"own_mesh_default": False}, "mesh-tracing:tracing.namespaces", "overrides are all"),
    ],
)
def test_mesh_default_ownership_rules(tracing: dict, istio: dict, key: str, reason: str) -> None:
    (problem,) = _problems({"environment": "dev", "tracing": tracing, "istio": istio})
    assert problem.key == key
    assert reason in problem.reason


def test_an_unknown_environment_hides_no_other_mistake() -> None:
    problems = _problems({"environment": "Prod", "tracing": {"sampling": -1}})
    assert [(p.key, p.reason) for p in problems] == [
        ("mesh-tracing:environment", "unknown environment"),
        ("mesh-tracing:tracing.sampling", "sampling is a percentage between 0 and 100"),
    ]


def test_a_rule_between_fields_runs_when_other_fields_of_its_section_are_wrong() -> None:
    raw = {
        "environment": "dev",
        "tracing": {"sampling": 1},
        "jaeger": {"replicas": 3, "badger": {"volume_size": "ten"}, "query_base_path": "x"},
        "kiali": {"auth": "openid", "replicas": 0},
    }
    keys = {problem.key.removeprefix("mesh-tracing:") for problem in _problems(raw)}
    assert keys == {
        "jaeger.replicas",  # memory storage runs in one pod
        "jaeger.badger.volume_size",
        "jaeger.query_base_path",
        "kiali.openid",  # auth openid needs the client
        "kiali.replicas",
    }


def test_a_rule_is_skipped_when_a_field_it_reads_is_wrong() -> None:
    raw = {"environment": "dev", "tracing": {"sampling": 1}, "jaeger": {"storage": "mem"}}
    problems = _problems(raw)
    assert [problem.key for problem in problems] == ["mesh-tracing:jaeger.storage"]


@pytest.mark.parametrize("stack", ["prod-eu", "PROD", "Production-2"])
def test_a_stack_named_like_production_is_judged_as_production(stack: str) -> None:
    raw = {"environment": "dev", "tracing": {"sampling": 100}}
    with pytest.raises(ConfigError) as caught:
        load_stack_config(stack, raw)
    problems = {problem.key: problem for problem in caught.value.problems}
    assert "named like a production stack" in problems["mesh-tracing:environment"].reason
    assert "at most 5 percent" in problems["mesh-tracing:tracing.sampling"].reason
    assert "not production" in problems["mesh-tracing:kiali.auth"].reason


def test_a_stack_named_unlike_production_keeps_its_environment() -> None:
    assert load_stack_config("preprod", {"environment": "dev", "tracing": {"sampling": 100}})


def test_values_are_shown_as_written_and_unknown_keys_suggest_the_nearest() -> None:
    problems = _problems(
        {"environment": "prod", "tracing": {"sampling": 50, "sampleing": 1}, "jaeger": {}}
    )
    by_key = {problem.key: problem for problem in problems}
    assert by_key["mesh-tracing:tracing.sampling"].value == "50"
    assert "did you mean `sampling`?" in by_key["mesh-tracing:tracing.sampleing"].reason
    assert not any("Input should" in str(problem) for problem in problems)


def test_an_advertised_jaeger_url_needs_who_may_reach_it() -> None:
    jaeger = {"external_url": "https://jaeger.example.com"}
    (problem,) = _problems({"environment": "dev", "tracing": {"sampling": 1}, "jaeger": jaeger})
    assert problem.key == "mesh-tracing:jaeger.query_ingress_namespaces"
    assert "network_policy: false" in problem.allowed
    for fix in ({"query_ingress_namespaces": ["istio-ingress"]}, {"network_policy": False}):
        assert _load(
            {"environment": "dev", "tracing": {"sampling": 1}, "jaeger": {**jaeger, **fix}}
        )


def test_a_number_given_as_text_says_how_to_set_it_as_a_number() -> None:
    (problem,) = _problems({"environment": "dev", "tracing": {"sampling": "5.01"}})
    assert problem.reason == (
        "must be a number (this is text: "
        "pulumi config set --path 'mesh-tracing:tracing.sampling' 5.01 --type float)"
    )
