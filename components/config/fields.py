"""Field types of the configuration, each carrying the text that tells a user what is allowed.

The "allowed" text of a field is derived from its type wherever the type says it all (a number
range, a choice of words, an object's keys); a type whose rule is a pattern carries its own text.
"""

from __future__ import annotations

import math
import re
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, Optional, Union
from urllib.parse import urlsplit

import annotated_types
from pydantic import AfterValidator, BaseModel, ConfigDict, PlainValidator, SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticCustomError

from .defaults import PRODUCTION_SAMPLING_CAP_PERCENT

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_QUANTITY = re.compile(r"^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$")
_GO_DURATION = re.compile(r"^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$")
_PROMETHEUS_DURATION = re.compile(r"^([0-9]+(ms|s|m|h|d|w|y))+$")
_REGISTRY = re.compile(
    r"^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]{1,5})?(/[a-z0-9]([a-z0-9._-]*[a-z0-9])?)*$"
)
_LABEL_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
_URL_PATH = re.compile(r"^/([A-Za-z0-9._~-]+(/[A-Za-z0-9._~-]+)*)?$")
MAX_TEXT = 253


@dataclass(frozen=True)
class Allowed:
    """What a field type allows, in a user's words; `noun` names one such value in a list or
    a map (`a map of namespace name to ...`)."""

    text: str
    noun: str


class Deferred:
    """A value known only at deployment (a Pulumi output given to a component), carried through
    validation untouched. Only credentials and the wiring between components may be deferred:
    every other setting decides which resources exist, so it must be known up front."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __repr__(self) -> str:
        return "Deferred(...)"


def fail(kind: str, message: str, **context: Any) -> PydanticCustomError:
    return PydanticCustomError(kind, message, context)


def _check_sampling(value: float, info: Any) -> float:
    if math.isnan(value) or math.isinf(value):
        raise fail("sampling_finite", "sampling must be a finite number")
    if not 0 <= value <= 100:
        raise fail("sampling_range", "sampling is a percentage between 0 and 100")
    # Istio stores the percentage as a double but operators reason in hundredths of a percent;
    # anything finer is a typo (0.001 meant 0.01, or a fraction passed instead of a percent).
    if abs(round(value * 100) - value * 100) > 1e-6:
        raise fail("sampling_step", "sampling is set in steps of 0.01 percent")
    if (info.context or {}).get("production") and value > PRODUCTION_SAMPLING_CAP_PERCENT:
        raise fail(
            "sampling_production_cap",
            "production stacks sample at most {cap} percent (high sampling overloads the Jaeger "
            "collectors)",
            cap=f"{PRODUCTION_SAMPLING_CAP_PERCENT:g}",
        )
    return float(value)


def _pattern(expression: re.Pattern[str], kind: str, message: str, limit: int = MAX_TEXT) -> Any:
    def check(value: str) -> str:
        if len(value) > limit or not expression.fullmatch(value):
            raise fail(kind, message)
        return value

    return AfterValidator(check)


def _check_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or len(value) > 2048:
        raise fail("url", "not an absolute http(s) URL")
    return value.rstrip("/")


def _check_chart_source(value: str) -> str:
    """A mirror repository by URL, or a prepared directory, which must be there: a typo in it
    would otherwise surface as a Helm error halfway through a deployment."""
    parts = urlsplit(value)
    if parts.scheme in ("http", "https", "oci"):
        if not parts.hostname or len(value) > 2048:
            raise fail("chart_source", "not a complete {scheme}:// URL", scheme=parts.scheme)
        return value.rstrip("/")
    if "://" in value:
        raise fail("chart_source", "unsupported scheme {scheme}://", scheme=parts.scheme)
    if not value.strip() or not Path(value).is_dir():
        raise fail("chart_source", "no such directory")
    return value


def _check_label_key(value: str) -> str:
    """`name` or `prefix/name`, as Kubernetes label keys are."""
    prefix, _, name = value.rpartition("/")
    if (prefix and (len(prefix) > MAX_TEXT or not _DNS_SUBDOMAIN.fullmatch(prefix))) or not (
        _LABEL_NAME.fullmatch(name)
    ):
        raise fail("label_key", "not a valid label key")
    return value


def _check_label_value(value: str) -> str:
    if value and not _LABEL_NAME.fullmatch(value):
        raise fail("label_value", "not a valid label value")
    return value


def _check_selector(value: dict[str, str]) -> dict[str, str]:
    if not value:
        raise fail("selector_empty", "an empty selector would select every pod in the namespace")
    return value


def _check_text(value: str) -> str:
    if not value.strip() or len(value) > MAX_TEXT:
        raise fail("text", "must be non-empty text of at most {limit} characters", limit=MAX_TEXT)
    return value


def _credential(value: Any) -> Any:
    """Plain text becomes a SecretStr at once, so it never prints; a deferred one stays as is."""
    if isinstance(value, (SecretStr, Deferred)):
        return value
    if isinstance(value, str) and value:
        return SecretStr(value)
    raise fail("credential", "must be non-empty text")


def _wired(kind: type, noun: str) -> Any:
    def check(value: Any) -> Any:
        if isinstance(value, Deferred):
            return value
        if isinstance(value, kind) and not isinstance(value, bool) and value != "":
            return value
        raise fail("wired", "must be {noun}", noun=noun)

    return PlainValidator(check)


SAMPLING_ALLOWED = (
    f"a number from 0 to 100 in steps of 0.01; at most {PRODUCTION_SAMPLING_CAP_PERCENT:g} in prod"
)
NAMESPACE_ALLOWED = "a Kubernetes namespace name: lower-case letters, digits and '-', at most 63"

SamplingPercent = Annotated[
    float, AfterValidator(_check_sampling), Allowed(SAMPLING_ALLOWED, "sampling percentage")
]
NamespaceName = Annotated[
    str,
    _pattern(_DNS_LABEL, "dns_label", "not a valid Kubernetes name", 63),
    Allowed(NAMESPACE_ALLOWED, "namespace name"),
]
ObjectName = Annotated[
    str,
    _pattern(_DNS_SUBDOMAIN, "dns_subdomain", "not a valid Kubernetes object name"),
    Allowed("a Kubernetes object name: lower-case letters, digits, '-' and '.'", "object name"),
]
HttpUrl = Annotated[str, AfterValidator(_check_url), Allowed("an absolute http(s) URL", "URL")]
StorageQuantity = Annotated[
    str,
    _pattern(_QUANTITY, "quantity", "not a Kubernetes storage quantity"),
    Allowed("a Kubernetes quantity such as 10Gi", "quantity"),
]
GoDuration = Annotated[
    str,
    _pattern(_GO_DURATION, "duration", "not a duration"),
    Allowed("a duration such as 72h", "duration"),
]
PrometheusDuration = Annotated[
    str,
    _pattern(_PROMETHEUS_DURATION, "duration", "not a Prometheus duration"),
    Allowed("a Prometheus duration such as 15d", "duration"),
]
UrlPath = Annotated[
    str,
    _pattern(_URL_PATH, "url_path", "not a URL path", 200),
    Allowed("a URL path starting with '/'", "path"),
]
Text = Annotated[
    str,
    AfterValidator(_check_text),
    Allowed(f"non-empty text of at most {MAX_TEXT} characters", "text"),
]
ChartSource = Annotated[
    str,
    AfterValidator(_check_chart_source),
    Allowed(
        "an http(s):// or oci:// chart repository that mirrors our charts, or a directory "
        "holding each chart as <name>/ or <name>-<version>.tgz",
        "chart source",
    ),
]
ImageRegistry = Annotated[
    str,
    _pattern(_REGISTRY, "image_registry", "not a registry host with an optional path"),
    Allowed(
        "a registry host and optional path, such as registry.example.com:5000/mirror", "registry"
    ),
]
LabelKey = Annotated[
    str,
    AfterValidator(_check_label_key),
    Allowed(
        "a label key: [prefix/]name, the name at most 63 letters, digits, '-', '_', '.'", "label"
    ),
]
LabelValue = Annotated[
    str,
    AfterValidator(_check_label_value),
    Allowed("a label value: at most 63 letters, digits, '-', '_', '.'", "label value"),
]
LabelSelector = Annotated[
    dict[LabelKey, LabelValue],
    AfterValidator(_check_selector),
    Allowed(
        "a non-empty map of label keys to label values, such as {istio: ingressgateway}", "selector"
    ),
]
Credential = Annotated[
    Any,
    PlainValidator(_credential),
    Allowed("a Pulumi secret (pulumi config set --secret --path KEY VALUE)", "secret"),
]
"""A SecretStr, or a Deferred holding a component's Pulumi output."""
WiredText = Annotated[
    Any,
    _wired(str, "non-empty text or a Pulumi output"),
    Allowed("text or a Pulumi output", "text"),
]
WiredPort = Annotated[
    Any,
    _wired(int, "a port number or a Pulumi output"),
    Allowed("a port or a Pulumi output", "port"),
]


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)


def nested_model(annotation: Any) -> Optional[type[BaseModel]]:
    """The config model inside a field's annotation (`Optional[BadgerConfig]`), if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for argument in typing.get_args(annotation):
        found = nested_model(argument)
        if found is not None:
            return found
    return None


def _without_none(annotation: Any) -> Any:
    if typing.get_origin(annotation) is Union:
        arguments = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        if len(arguments) == 1:
            return arguments[0]
    return annotation


def _describe(annotation: Any, metadata: list[Any]) -> Allowed:
    annotation = _without_none(annotation)
    if typing.get_origin(annotation) is Annotated:
        inner, *extras = typing.get_args(annotation)
        return _describe(inner, [*extras, *metadata])
    for item in metadata:
        if isinstance(item, Allowed):
            return item
    if annotation is bool:
        return Allowed("true or false", "flag")
    if annotation is int:
        low = next((m.ge for m in metadata if isinstance(m, annotated_types.Ge)), None)
        high = next((m.le for m in metadata if isinstance(m, annotated_types.Le)), None)
        if low is not None and high is not None:
            return Allowed(f"a whole number from {low} to {high}", "number")
        return Allowed("a whole number", "number")
    if typing.get_origin(annotation) is Literal:
        words = [str(word) for word in typing.get_args(annotation)]
        return Allowed(", ".join(words[:-1]) + " or " + words[-1], "word")
    model = nested_model(annotation)
    if model is not None and annotation is model:
        return Allowed("an object with " + ", ".join(model.model_fields), "object")
    if typing.get_origin(annotation) is list:
        (item,) = typing.get_args(annotation)
        return Allowed(f"a list, each {_describe(item, []).text}", "list")
    if typing.get_origin(annotation) is dict:
        key, value = typing.get_args(annotation)
        return Allowed(f"a map of {_describe(key, []).noun} to {_describe(value, []).text}", "map")
    return Allowed("see the configuration reference in the README", "value")


def describe_type(annotation: Any) -> str:
    """What a type allows, in a user's words."""
    return _describe(annotation, []).text


def allowed_text(field: FieldInfo) -> str:
    """What a field allows: its own words where a rule spans environments, else its type's."""
    extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
    if "allowed" in extra:
        return str(extra["allowed"])
    return _describe(field.annotation, list(field.metadata)).text


def allowed(text: str) -> dict[str, Any]:
    """`json_schema_extra` for a field whose rule the type cannot say (it differs by
    environment, say)."""
    return {"allowed": text}
