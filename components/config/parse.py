"""The two edges where configuration comes in: a stack's config, and a component's args.

Each is validated once, here, into a typed model; everything past this point trusts the model.
Every independent problem is reported at once, each naming the key, the value as given and what
is allowed, in our words rather than the validation library's.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Optional, TypeVar

from pydantic import BaseModel, ValidationError

from .defaults import (
    CONFIG_NAMESPACE,
    DEFAULT_PRODUCTION_STACK_PATTERNS,
    DEFAULTED_KEYS,
    ENVIRONMENT_DEFAULTS,
    ENVIRONMENTS,
    SECRET_PATHS,
    is_production,
    named_like_production,
)
from .errors import NOT_SET, ConfigError, ConfigProblem, key_path, show
from .fields import Deferred, allowed_text, describe_type, nested_model
from .rules import RuleInput, rules_of
from .stack import StackConfig

Model = TypeVar("Model", bound=BaseModel)
STACK_KEY_PREFIX = f"{CONFIG_NAMESPACE}:"

# The validation library's error kinds, said the way the configuration reference says them.
_REASONS = {
    "model_type": "must be an object of keys and values",
    "model_attributes_type": "must be an object of keys and values",
    "dict_type": "must be an object of keys and values",
    "string_type": "must be text",
    "int_type": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_type": "must be a number",
    "bool_type": "must be true or false",
    "list_type": "must be a list",
    "literal_error": "not one of the allowed values",
    "finite_number": "must be a finite number",
    "greater_than_equal": "too small",
    "greater_than": "too small",
    "less_than_equal": "too large",
    "less_than": "too large",
    "missing": "required",
}


def parse_stack_config(
    stack: str, raw: Mapping[str, Any], secret_keys: Iterable[str] = ()
) -> StackConfig:
    """A stack's `mesh-tracing:` config (keys without the namespace), validated, or ConfigError.

    `secret_keys` are the top-level keys Pulumi holds as secrets: a credential given in plain
    text is refused, because it would sit unencrypted in the stack file.
    """
    secret_sections = {key.removeprefix(STACK_KEY_PREFIX) for key in secret_keys}
    plain_text_credentials = [
        ConfigProblem(
            key=STACK_KEY_PREFIX + ".".join(path),
            value="(plain text)",
            reason="a credential must be stored as a Pulumi secret",
            allowed=f"pulumi config set --secret --path '{'.'.join(path)}' VALUE",
        )
        for path in SECRET_PATHS
        if _at(raw, path) is not None and path[0] not in secret_sections
    ]
    return _validate(
        stack,
        "stack",
        StackConfig,
        raw,
        STACK_KEY_PREFIX,
        stack=stack,
        first_problems=plain_text_credentials,
    )


def parse_component_args(
    component: str, model: type[Model], args: Mapping[str, Any], *, stack: str = ""
) -> Model:
    """A component's args validated into `model`, or ConfigError naming the component.

    Pulumi outputs must already be wrapped in `Deferred`; only credentials and the wiring
    between components accept them. `stack` is the stack the component is deployed in: a stack
    named like production is judged as production, as the policy pack judges it.
    """
    return _validate(component, "component", model, args, "", stack=stack)


def _validate(
    owner: str,
    kind: str,
    model: type[Model],
    raw: Mapping[str, Any],
    prefix: str,
    *,
    stack: str,
    first_problems: Iterable[ConfigProblem] = (),
) -> Model:
    problems = list(first_problems)
    if not isinstance(raw, Mapping):
        raise ConfigError(
            owner,
            [ConfigProblem(prefix or "(args)", show(raw), "must be an object", "an object")],
            kind=kind,
        )
    environment: Optional[str] = raw.get("environment")
    if environment not in ENVIRONMENTS:
        problems.append(
            ConfigProblem(
                key=prefix + "environment",
                value=show(environment),
                reason="required" if environment is None else "unknown environment",
                allowed="dev, staging or prod",
            )
        )
        environment = None
    elif environment != "prod" and named_like_production(stack):
        problems.append(
            ConfigProblem(
                key=prefix + "environment",
                value=show(environment),
                reason=f"stack '{stack}' is named like a production stack, and the policy pack "
                "judges it as one",
                allowed="prod, or a stack name that matches none of "
                + ", ".join(DEFAULT_PRODUCTION_STACK_PATTERNS),
            )
        )
    production = is_production(stack, environment)
    data = _with_defaults(model, environment, raw)

    validated: Optional[Model] = None
    failed: list[tuple[Any, ...]] = []
    try:
        validated = model.model_validate(
            data, context={"environment": environment, "production": production}
        )
    except ValidationError as error:
        for item in error.errors(include_url=False):
            location = tuple(part for part in item["loc"] if part != "[key]")
            failed.append(location)
            if location[:1] == ("environment",):
                continue  # reported above, in our words
            if environment is None and item["type"] == "missing" and _defaulted(location):
                continue  # the environment would have filled it in
            problems.append(_problem(item, model, prefix))

    problems.extend(
        _rule_problems(model, validated or data, (), failed, environment, production, prefix)
    )
    if problems:
        raise ConfigError(owner, problems, kind=kind)
    assert validated is not None
    return validated


def _with_defaults(
    model: type[BaseModel], environment: Optional[str], raw: Mapping[str, Any]
) -> dict[str, Any]:
    merged = dict(raw)
    for section, defaults in ENVIRONMENT_DEFAULTS.get(environment or "", {}).items():
        if section not in model.model_fields:
            continue
        given = raw.get(section, {})
        if isinstance(given, Mapping):
            merged[section] = {**defaults, **given}
    return merged


def _defaulted(location: tuple[Any, ...]) -> bool:
    sections = {section for section, _ in DEFAULTED_KEYS}
    return (len(location) == 1 and location[0] in sections) or location[:2] in DEFAULTED_KEYS


def _at(raw: Any, path: Iterable[str]) -> Any:
    for part in path:
        raw = raw.get(part) if isinstance(raw, Mapping) else None
    return raw


def _field_at(model: type[BaseModel], location: Iterable[Any]) -> Any:
    """The pydantic FieldInfo a location points at (a map's entries share the map's field)."""
    field = None
    current: Optional[type[BaseModel]] = model
    for part in location:
        if current is not None and part in current.model_fields:
            field = current.model_fields[part]
            current = nested_model(field.annotation)
        elif field is None or not isinstance(part, (str, int)):
            break
    return field


def _known_keys(model: type[BaseModel], location: tuple[Any, ...]) -> list[str]:
    parent = _field_at(model, location) if location else None
    owner = nested_model(parent.annotation) if parent is not None else model
    return list(owner.model_fields) if owner is not None else []


def _problem(item: Any, model: type[BaseModel], prefix: str) -> ConfigProblem:
    location = tuple(part for part in item["loc"] if part != "[key]")
    key = prefix + key_path(location)
    given = item.get("input")
    if item["type"] == "extra_forbidden":
        known = _known_keys(model, location[:-1])
        close = difflib.get_close_matches(str(location[-1]), known, n=1)
        hint = f"; did you mean `{close[0]}`?" if close else ""
        return ConfigProblem(key, show(given), f"unknown key{hint}", "one of: " + ", ".join(known))
    if isinstance(given, Deferred):
        return ConfigProblem(
            key,
            show(given),
            "a Pulumi output here is known only at deployment, but this setting decides which "
            "resources exist",
            "a plain value",
        )
    field = _field_at(model, location)
    if "[key]" in item["loc"] and field is not None:
        # A map key failed (a namespace name), not the value the field's rule describes.
        key_type = field.annotation.__args__[0]
        return ConfigProblem(key, show(given), item["msg"], describe_type(key_type))
    reason = _REASONS.get(item["type"], item["msg"])
    if prefix and item["type"] in ("float_type", "int_type") and _looks_numeric(given):
        # `pulumi config set --path KEY 5.01` stores text unless told the type.
        kind = "float" if item["type"] == "float_type" else "int"
        reason += f" (this is text: pulumi config set --path '{key}' {given} --type {kind})"
    value = NOT_SET if item["type"] == "missing" else show(given)
    allowed = allowed_text(field) if field is not None else "see the configuration reference"
    return ConfigProblem(key, value, reason, allowed)


def _looks_numeric(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        float(value)
    except ValueError:
        return False
    return True


def _rule_problems(
    model: type[BaseModel],
    data: Any,
    location: tuple[Any, ...],
    failed: list[tuple[Any, ...]],
    environment: Optional[str],
    production: bool,
    prefix: str,
) -> Iterator[ConfigProblem]:
    """Every broken rule of `model` and of the models nested in it whose fields are valid."""
    inside = [path[len(location) :] for path in failed if path[: len(location)] == location]
    if () in inside or not isinstance(data, (Mapping, BaseModel)):
        return
    given = RuleInput(model, data, environment, production)
    for rule in rules_of(model):
        if rule.blocked_by(inside):
            continue
        for violation in rule.check(given):
            yield ConfigProblem(
                key=prefix + key_path((*location, *violation.key.split("."))),
                value=show(violation.value),
                reason=violation.reason,
                allowed=violation.allowed,
            )
    for name, field in model.model_fields.items():
        nested = nested_model(field.annotation)
        value = given.get(name)
        if nested is not None and value is not None:
            yield from _rule_problems(
                nested, value, (*location, name), failed, environment, production, prefix
            )
