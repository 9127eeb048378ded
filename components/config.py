"""Typed, validated stack configuration.

Everything a stack or a component is told passes through these models exactly once, at the edge.
The models are pure pydantic: no Pulumi import, so they can be checked, fuzzed and reused by the
policy pack and the offline plan without a Pulumi runtime.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Literal, Optional
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    model_validator,
)
from pydantic_core import PydanticCustomError

CONFIG_NAMESPACE = "mesh-tracing"
ENVIRONMENTS = ("dev", "staging", "prod")
PRODUCTION_SAMPLING_CAP_PERCENT = 5.0

Environment = Literal["dev", "staging", "prod"]
StorageBackend = Literal["memory", "badger", "elasticsearch", "opensearch"]
KialiAuthStrategy = Literal["anonymous", "token", "openid"]

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_QUANTITY = re.compile(r"^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$")
_GO_DURATION = re.compile(r"^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$")
_PROMETHEUS_DURATION = re.compile(r"^([0-9]+(ms|s|m|h|d|w|y))+$")
_URL_PATH = re.compile(r"^/([A-Za-z0-9._~-]+(/[A-Za-z0-9._~-]+)*)?$")
_MAX_TEXT = 253


def _fail(
    kind: str,
    message: str,
    *,
    key: Optional[str] = None,
    value: Any = None,
    allowed: Optional[str] = None,
    **values: Any,
) -> PydanticCustomError:
    """A validation error; `key`, `value` and `allowed` point a cross-field rule at one key."""
    context = dict(values)
    if key is not None:
        context.update(error_key=key, error_value=value, error_allowed=allowed)
    return PydanticCustomError(kind, message, context)


# --- field types -------------------------------------------------------------------------------


def _check_sampling(value: float, info: ValidationInfo) -> float:
    if math.isnan(value) or math.isinf(value):
        raise _fail("sampling_finite", "sampling must be a finite number")
    if not 0 <= value <= 100:
        raise _fail("sampling_range", "sampling is a percentage between 0 and 100")
    # Istio stores the percentage as a double but operators reason in hundredths of a percent;
    # anything finer is a typo (0.001 meant 0.01, or a fraction passed instead of a percent).
    if abs(round(value * 100) - value * 100) > 1e-6:
        raise _fail("sampling_step", "sampling is set in steps of 0.01 percent")
    environment = (info.context or {}).get("environment")
    if environment == "prod" and value > PRODUCTION_SAMPLING_CAP_PERCENT:
        raise _fail(
            "sampling_production_cap",
            "production stacks sample at most {cap} percent (high sampling overloads the Jaeger "
            "collectors)",
            cap=f"{PRODUCTION_SAMPLING_CAP_PERCENT:g}",
        )
    return float(value)


def _check_dns_label(value: str) -> str:
    if len(value) > 63 or not _DNS_LABEL.fullmatch(value):
        raise _fail("dns_label", "not a valid Kubernetes name")
    return value


def _check_dns_subdomain(value: str) -> str:
    if len(value) > _MAX_TEXT or not _DNS_SUBDOMAIN.fullmatch(value):
        raise _fail("dns_subdomain", "not a valid Kubernetes object name")
    return value


def _check_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or len(value) > 2048:
        raise _fail("url", "not an absolute http(s) URL")
    return value.rstrip("/")


def _check_quantity(value: str) -> str:
    if not _QUANTITY.fullmatch(value):
        raise _fail("quantity", "not a Kubernetes storage quantity")
    return value


def _check_go_duration(value: str) -> str:
    if not _GO_DURATION.fullmatch(value):
        raise _fail("duration", "not a duration")
    return value


def _check_prometheus_duration(value: str) -> str:
    if not _PROMETHEUS_DURATION.fullmatch(value):
        raise _fail("duration", "not a Prometheus duration")
    return value


def _check_url_path(value: str) -> str:
    if len(value) > 200 or not _URL_PATH.fullmatch(value):
        raise _fail("url_path", "not a URL path")
    return value


def _check_text(value: str) -> str:
    if not value.strip() or len(value) > _MAX_TEXT:
        raise _fail("text", "must be non-empty text of at most {limit} characters", limit=_MAX_TEXT)
    return value


def _allowed(text: str) -> dict[str, str]:
    return {"allowed": text}


SamplingPercent = Annotated[float, AfterValidator(_check_sampling)]
NamespaceName = Annotated[str, AfterValidator(_check_dns_label)]
ObjectName = Annotated[str, AfterValidator(_check_dns_subdomain)]
HttpUrl = Annotated[str, AfterValidator(_check_url)]
StorageQuantity = Annotated[str, AfterValidator(_check_quantity)]
GoDuration = Annotated[str, AfterValidator(_check_go_duration)]
PrometheusDuration = Annotated[str, AfterValidator(_check_prometheus_duration)]
UrlPath = Annotated[str, AfterValidator(_check_url_path)]
Text = Annotated[str, AfterValidator(_check_text)]

SAMPLING_ALLOWED = "a number from 0 to 100 in steps of 0.01; at most 5 in prod"
NAMESPACE_ALLOWED = "a Kubernetes namespace name: lower-case letters, digits and '-', at most 63"


class _StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)


# --- sections --------------------------------------------------------------------------------


class TracingConfig(_StrictModel):
    """Sampling and the name of the mesh's tracing extension provider."""

    sampling: Optional[SamplingPercent] = Field(
        default=None,
        description="Mesh-wide sampling percentage, set on the root-namespace Telemetry; "
        "required unless istio.own_mesh_default is false.",
        json_schema_extra=_allowed(SAMPLING_ALLOWED),
    )
    namespaces: dict[NamespaceName, SamplingPercent] = Field(
        default_factory=dict,
        description="Per-namespace sampling percentages; each gets its own Telemetry.",
        json_schema_extra=_allowed(f"a map of namespace name to {SAMPLING_ALLOWED}"),
    )
    provider_name: NamespaceName = Field(
        default="jaeger-otlp",
        description="Name of the OpenTelemetry extension provider in the mesh config.",
        json_schema_extra=_allowed("a lower-case name, at most 63 characters"),
    )


class IstioConfig(_StrictModel):
    """Where Istio lives and whether this stack installs its control plane."""

    install: bool = Field(
        description="Install Istio's base and istiod charts; false leaves the control plane alone "
        "and exports the mesh config to merge.",
        json_schema_extra=_allowed("true or false"),
    )
    own_mesh_default: bool = Field(
        default=True,
        description="This stack owns the mesh-wide Telemetry in the root namespace; false when "
        "another stack owns it and this one only adds per-namespace overrides.",
        json_schema_extra=_allowed("true or false"),
    )
    root_namespace: NamespaceName = Field(
        default="istio-system",
        description="Istio root namespace: the mesh-wide Telemetry goes here.",
        json_schema_extra=_allowed(NAMESPACE_ALLOWED),
    )
    istiod_replicas: int = Field(
        ge=1,
        le=10,
        description="istiod replicas when this stack installs Istio.",
        json_schema_extra=_allowed("a whole number from 1 to 10"),
    )


class SearchStoreConfig(_StrictModel):
    """An external Elasticsearch or OpenSearch cluster holding the spans."""

    url: HttpUrl = Field(
        description="Cluster URL.", json_schema_extra=_allowed("an absolute http(s) URL")
    )
    username: Optional[Text] = Field(
        default=None,
        description="User name; the password comes from `password` (a Pulumi secret).",
        json_schema_extra=_allowed("non-empty text"),
    )
    password: Optional[SecretStr] = Field(
        default=None,
        description="Password, set with `pulumi config set --secret --path`.",
        json_schema_extra=_allowed("a Pulumi secret"),
    )
    existing_secret: Optional[ObjectName] = Field(
        default=None,
        description="Name of an existing Kubernetes Secret in the Jaeger namespace with keys "
        "`username` and `password`.",
        json_schema_extra=_allowed("a Kubernetes Secret name"),
    )
    index_prefix: Optional[NamespaceName] = Field(
        default=None,
        description="Index prefix, for clusters shared between environments.",
        json_schema_extra=_allowed("a lower-case name, at most 63 characters"),
    )

    @model_validator(mode="after")
    def _one_credential_source(self) -> SearchStoreConfig:
        inline = self.username is not None or self.password is not None
        if inline and self.existing_secret is not None:
            raise _fail(
                "credentials",
                "set either username and password, or existing_secret, not both",
                key="existing_secret",
                value=self.existing_secret,
                allowed="unset when username and password are set",
            )
        if (self.username is None) != (self.password is None):
            missing = "password" if self.password is None else "username"
            raise _fail(
                "credentials",
                "username and password go together",
                key=missing,
                value=None,
                allowed="set together with the other one",
            )
        return self

    @property
    def has_credentials(self) -> bool:
        return self.password is not None or self.existing_secret is not None


class BadgerConfig(_StrictModel):
    """Badger on a PersistentVolumeClaim: one replica, data on its own disk."""

    volume_size: StorageQuantity = Field(
        default="10Gi",
        description="Size of the PersistentVolumeClaim.",
        json_schema_extra=_allowed("a Kubernetes quantity such as 10Gi"),
    )
    storage_class: Optional[ObjectName] = Field(
        default=None,
        description="StorageClass of the claim; the cluster default when unset.",
        json_schema_extra=_allowed("a StorageClass name"),
    )
    span_retention: GoDuration = Field(
        default="72h",
        description="How long spans are kept.",
        json_schema_extra=_allowed("a duration such as 72h"),
    )


class JaegerConfig(_StrictModel):
    """The Jaeger v2 backend."""

    namespace: NamespaceName = Field(
        default="observability",
        description="Namespace of the Jaeger release.",
        json_schema_extra=_allowed(NAMESPACE_ALLOWED),
    )
    storage: StorageBackend = Field(
        description="Span storage.",
        json_schema_extra=_allowed(
            "memory, badger, elasticsearch or opensearch; not memory or badger in prod"
        ),
    )
    replicas: int = Field(
        ge=1,
        le=20,
        description="Jaeger replicas; more than one needs elasticsearch or opensearch.",
        json_schema_extra=_allowed("a whole number from 1 to 20"),
    )
    memory_max_traces: int = Field(
        default=100_000,
        ge=1_000,
        le=10_000_000,
        description="Traces kept by memory storage before the oldest are dropped.",
        json_schema_extra=_allowed("a whole number from 1000 to 10000000"),
    )
    badger: BadgerConfig = Field(
        default_factory=BadgerConfig,
        description="Badger settings, used when storage is badger.",
        json_schema_extra=_allowed("an object with volume_size, storage_class, span_retention"),
    )
    elasticsearch: Optional[SearchStoreConfig] = Field(
        default=None,
        description="The Elasticsearch cluster, required when storage is elasticsearch.",
        json_schema_extra=_allowed("an object with url and credentials"),
    )
    opensearch: Optional[SearchStoreConfig] = Field(
        default=None,
        description="The OpenSearch cluster, required when storage is opensearch.",
        json_schema_extra=_allowed("an object with url and credentials"),
    )
    query_base_path: UrlPath = Field(
        default="/jaeger",
        description="Base path of the Jaeger UI and query API.",
        json_schema_extra=_allowed("a URL path starting with '/'"),
    )
    external_url: Optional[HttpUrl] = Field(
        default=None,
        description="Browser-facing Jaeger UI URL, for Kiali's links and the stack output.",
        json_schema_extra=_allowed("an absolute http(s) URL"),
    )
    network_policy: bool = Field(
        default=True,
        description="A NetworkPolicy on the Jaeger pods: OTLP from anywhere in the mesh, queries "
        "only from Kiali and query_ingress_namespaces.",
        json_schema_extra=_allowed("true or false"),
    )
    query_ingress_namespaces: list[NamespaceName] = Field(
        default_factory=list,
        description="Namespaces (an ingress controller's) whose pods may reach the Jaeger UI and "
        "query API.",
        json_schema_extra=_allowed("a list of namespace names"),
    )

    @model_validator(mode="after")
    def _storage_is_coherent(self, info: ValidationInfo) -> JaegerConfig:
        environment = (info.context or {}).get("environment")
        if environment == "prod" and self.storage in ("memory", "badger"):
            raise _fail(
                "storage_prod",
                "prod keeps spans in elasticsearch or opensearch, not {storage}",
                storage=self.storage,
                key="storage",
                value=self.storage,
                allowed="elasticsearch or opensearch in prod",
            )
        if self.storage in ("memory", "badger") and self.replicas != 1:
            raise _fail(
                "storage_replicas",
                "{storage} storage lives inside one pod; run 1 replica or use elasticsearch or "
                "opensearch",
                storage=self.storage,
                key="replicas",
                value=self.replicas,
                allowed=f"1 with {self.storage} storage",
            )
        for backend in ("elasticsearch", "opensearch"):
            section = getattr(self, backend)
            if self.storage == backend and section is None:
                raise _fail(
                    "storage_endpoint",
                    "storage {backend} needs the cluster's URL",
                    backend=backend,
                    key=f"{backend}.url",
                    value=None,
                    allowed="an absolute http(s) URL",
                )
            if self.storage != backend and section is not None:
                raise _fail(
                    "storage_unused",
                    "this cluster is not used: storage is {storage}",
                    storage=self.storage,
                    key=backend,
                    value="{...}",
                    allowed=f"unset unless storage is {backend}",
                )
            if environment == "prod" and self.storage == backend and not section.has_credentials:
                raise _fail(
                    "storage_credentials",
                    "prod needs credentials for {backend}",
                    backend=backend,
                    key=f"{backend}.password",
                    value=None,
                    allowed="username with a secret password, or existing_secret",
                )
        return self

    @property
    def search_store(self) -> Optional[SearchStoreConfig]:
        return self.elasticsearch or self.opensearch


class PrometheusConfig(_StrictModel):
    """The Prometheus Kiali reads: an existing one by URL, or one this stack installs."""

    install: bool = Field(
        description="Install the prometheus chart with Istio's scrape configuration.",
        json_schema_extra=_allowed("true or false"),
    )
    url: Optional[HttpUrl] = Field(
        default=None,
        description="URL of an existing Prometheus, when install is false.",
        json_schema_extra=_allowed("an absolute http(s) URL"),
    )
    namespace: NamespaceName = Field(
        default="observability",
        description="Namespace of the installed Prometheus.",
        json_schema_extra=_allowed(NAMESPACE_ALLOWED),
    )
    retention: PrometheusDuration = Field(
        default="15d",
        description="How long the installed Prometheus keeps samples.",
        json_schema_extra=_allowed("a Prometheus duration such as 15d"),
    )
    volume_size: StorageQuantity = Field(
        default="8Gi",
        description="Size of the installed Prometheus' PersistentVolumeClaim.",
        json_schema_extra=_allowed("a Kubernetes quantity such as 8Gi"),
    )

    @model_validator(mode="after")
    def _one_source(self) -> PrometheusConfig:
        if self.install and self.url is not None:
            raise _fail(
                "prometheus_source",
                "an installed Prometheus has its own URL",
                key="url",
                value=self.url,
                allowed="unset when install is true",
            )
        if not self.install and self.url is None:
            raise _fail(
                "prometheus_source",
                "Kiali needs a Prometheus",
                key="url",
                value=None,
                allowed="the URL of an existing Prometheus, or install: true",
            )
        return self


class OpenIdConfig(_StrictModel):
    """Kiali's OpenID Connect client."""

    issuer_uri: HttpUrl = Field(
        description="Issuer URI of the identity provider.",
        json_schema_extra=_allowed("an absolute http(s) URL"),
    )
    client_id: Text = Field(
        description="OAuth client id.", json_schema_extra=_allowed("non-empty text")
    )
    client_secret: SecretStr = Field(
        description="OAuth client secret, set with `pulumi config set --secret --path`.",
        json_schema_extra=_allowed("a Pulumi secret"),
    )
    username_claim: Text = Field(
        default="sub",
        description="Token claim used as the user name.",
        json_schema_extra=_allowed("non-empty text"),
    )
    scopes: list[Text] = Field(
        default_factory=lambda: ["openid", "profile", "email"],
        description="Scopes requested from the identity provider.",
        json_schema_extra=_allowed("a list of scope names"),
    )


class KialiConfig(_StrictModel):
    """Kiali, wired to Jaeger and Prometheus."""

    namespace: NamespaceName = Field(
        default="observability",
        description="Namespace of the Kiali release.",
        json_schema_extra=_allowed(NAMESPACE_ALLOWED),
    )
    auth: KialiAuthStrategy = Field(
        description="Login strategy; anonymous only in dev.",
        json_schema_extra=_allowed("anonymous (dev only), token or openid"),
    )
    view_only: bool = Field(
        description="Hide every action that changes the cluster.",
        json_schema_extra=_allowed("true or false"),
    )
    replicas: int = Field(
        ge=1,
        le=10,
        description="Kiali replicas.",
        json_schema_extra=_allowed("a whole number from 1 to 10"),
    )
    use_grpc: bool = Field(
        default=True,
        description="Query Jaeger over gRPC (port 16685) rather than HTTP (port 16686).",
        json_schema_extra=_allowed("true or false"),
    )
    external_url: Optional[HttpUrl] = Field(
        default=None,
        description="Browser-facing Kiali URL, for the stack output.",
        json_schema_extra=_allowed("an absolute http(s) URL"),
    )
    openid: Optional[OpenIdConfig] = Field(
        default=None,
        description="OpenID Connect settings, required when auth is openid.",
        json_schema_extra=_allowed("an object with issuer_uri, client_id, client_secret"),
    )

    @model_validator(mode="after")
    def _auth_is_coherent(self, info: ValidationInfo) -> KialiConfig:
        environment = (info.context or {}).get("environment")
        if self.auth == "anonymous" and environment != "dev":
            raise _fail(
                "kiali_anonymous",
                "anonymous Kiali is for dev only, not {environment}",
                environment=environment,
                key="auth",
                value=self.auth,
                allowed="token or openid outside dev",
            )
        if self.auth == "openid" and self.openid is None:
            raise _fail(
                "kiali_openid",
                "auth openid needs the OpenID client",
                key="openid",
                value=None,
                allowed="an object with issuer_uri, client_id, client_secret",
            )
        if self.auth != "openid" and self.openid is not None:
            raise _fail(
                "kiali_openid",
                "not used: auth is {auth}",
                auth=self.auth,
                key="openid",
                value="{...}",
                allowed="unset unless auth is openid",
            )
        return self


# Per-environment defaults, filled in for keys the stack leaves out. Everything here is a choice a
# platform team would make for that environment; anything security- or cost-relevant is stricter
# in prod, and none of it includes sampling, which every stack must state.
ENVIRONMENT_DEFAULTS: dict[str, dict[str, dict[str, Any]]] = {
    "dev": {
        "istio": {"install": True, "istiod_replicas": 1},
        "jaeger": {"storage": "memory", "replicas": 1},
        "prometheus": {"install": True},
        "kiali": {"auth": "anonymous", "view_only": False, "replicas": 1},
    },
    "staging": {
        "istio": {"install": False, "istiod_replicas": 2},
        "jaeger": {"storage": "badger", "replicas": 1},
        "prometheus": {"install": True},
        "kiali": {"auth": "token", "view_only": False, "replicas": 1},
    },
    "prod": {
        "istio": {"install": False, "istiod_replicas": 2},
        "jaeger": {"storage": "elasticsearch", "replicas": 2},
        "prometheus": {"install": False},
        "kiali": {"auth": "token", "view_only": True, "replicas": 2},
    },
}

SECTION_MODELS: dict[str, type[_StrictModel]] = {
    "tracing": TracingConfig,
    "istio": IstioConfig,
    "jaeger": JaegerConfig,
    "prometheus": PrometheusConfig,
    "kiali": KialiConfig,
}
SECRET_PATHS = (
    ("jaeger", "elasticsearch", "password"),
    ("jaeger", "opensearch", "password"),
    ("kiali", "openid", "client_secret"),
)


def telemetry_rule_violations(
    tracing: TracingConfig, istio: IstioConfig
) -> list[PydanticCustomError]:
    """Rules between the tracing and istio sections, shared by the stack config and the
    IstioTracing component."""
    problems = []
    if istio.own_mesh_default and tracing.sampling is None:
        problems.append(
            _fail(
                "sampling_required",
                "required: this stack owns the mesh-wide Telemetry",
                key="tracing.sampling",
                value=None,
                allowed=SAMPLING_ALLOWED,
            )
        )
    if not istio.own_mesh_default and tracing.sampling is not None:
        problems.append(
            _fail(
                "sampling_unused",
                "not used: istio.own_mesh_default is false, so another "
                "stack owns the mesh-wide sampling",
                key="tracing.sampling",
                value=tracing.sampling,
                allowed="unset when istio.own_mesh_default is false",
            )
        )
    if not istio.own_mesh_default and not tracing.namespaces:
        problems.append(
            _fail(
                "namespaces_required",
                "with istio.own_mesh_default false, the per-namespace "
                "overrides are all this stack manages",
                key="tracing.namespaces",
                value={},
                allowed="at least one namespace",
            )
        )
    # Two selector-less Telemetry resources in one namespace leave Istio to pick one; the root
    # namespace holds the mesh-wide one.
    if istio.root_namespace in tracing.namespaces:
        problems.append(
            _fail(
                "root_namespace_override",
                "{namespace} is the Istio root namespace; its sampling is tracing.sampling",
                namespace=istio.root_namespace,
                key=f"tracing.namespaces.{istio.root_namespace}",
                value=tracing.namespaces[istio.root_namespace],
                allowed="namespaces other than the Istio root namespace",
            )
        )
    return problems


def check_telemetry_rules(
    tracing: TracingConfig, istio: IstioConfig, *, owner: str, kind: str = "component"
) -> None:
    """Raise ConfigError for every broken rule of `telemetry_rule_violations`."""
    problems = [
        _cross_field_problem("", error.context or {}, error.message())
        for error in telemetry_rule_violations(tracing, istio)
    ]
    if problems:
        raise ConfigError(owner, problems, kind=kind)


def sampling_percent_by_namespace(tracing: TracingConfig, istio: IstioConfig) -> dict[str, float]:
    """The sampling each namespace gets from this stack's Telemetry resources."""
    mesh_wide = {} if tracing.sampling is None else {istio.root_namespace: tracing.sampling}
    return {**mesh_wide, **tracing.namespaces}


class StackConfig(_StrictModel):
    """The whole `mesh-tracing:` configuration of one stack."""

    environment: Environment = Field(
        description="Which environment this stack is.",
        json_schema_extra=_allowed("dev, staging or prod"),
    )
    tracing: TracingConfig = Field(
        description="Sampling; `tracing: {sampling: X}` alone is complete.",
        json_schema_extra=_allowed("an object with sampling (required) and namespaces"),
    )
    istio: IstioConfig = Field(json_schema_extra=_allowed("an object"))
    jaeger: JaegerConfig = Field(json_schema_extra=_allowed("an object"))
    prometheus: PrometheusConfig = Field(json_schema_extra=_allowed("an object"))
    kiali: KialiConfig = Field(json_schema_extra=_allowed("an object"))

    @model_validator(mode="after")
    def _telemetry_is_coherent(self) -> StackConfig:
        for rule in telemetry_rule_violations(self.tracing, self.istio):
            raise rule
        return self

    def sampling_percent_by_namespace(self) -> dict[str, float]:
        """Effective sampling set by this stack: the root namespace carries the mesh-wide value."""
        return sampling_percent_by_namespace(self.tracing, self.istio)


# --- errors ----------------------------------------------------------------------------------


class ConfigProblem(BaseModel):
    key: str
    value: str
    reason: str
    allowed: str

    def __str__(self) -> str:
        return f"{self.key} = {self.value}: {self.reason} (allowed: {self.allowed})"


class ConfigError(ValueError):
    """Every problem of one configuration, each naming the key, the value and what is allowed."""

    def __init__(self, owner: str, problems: list[ConfigProblem], *, kind: str = "stack"):
        self.owner = owner
        self.kind = kind
        self.problems = problems
        lines = "\n".join(f"  - {problem}" for problem in problems)
        super().__init__(f"{kind} '{owner}' has invalid mesh-tracing configuration:\n{lines}")

    @property
    def stack(self) -> Optional[str]:
        return self.owner if self.kind == "stack" else None


def _show(value: Any) -> str:
    if isinstance(value, SecretStr):
        return "[secret]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(sorted(map(str, value))) + "}" if value else "{}"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _field_at(model: type[BaseModel], path: Iterable[Any]) -> tuple[Optional[Any], type[BaseModel]]:
    """The pydantic FieldInfo a location points at, and the model that owns it."""
    field = None
    owner: type[BaseModel] = model
    current: Any = model
    for part in path:
        if (
            isinstance(current, type)
            and issubclass(current, BaseModel)
            and part in current.model_fields
        ):
            owner = current
            field = current.model_fields[part]
            current = nested_model(field.annotation)
        elif field is not None and isinstance(part, str):
            # A dict key (namespace name): the value's rule is the dict field's rule.
            continue
        else:
            break
    return field, owner


def nested_model(annotation: Any) -> Any:
    """The config model inside a field's annotation (`Optional[BadgerConfig]`), if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for argument in getattr(annotation, "__args__", ()) or ():
        found = nested_model(argument)
        if found is not None:
            return found
    return None


def _allowed_text(field: Any) -> str:
    extra = getattr(field, "json_schema_extra", None) or {}
    return str(extra.get("allowed", "see the configuration reference in the README"))


def _key_path(location: Iterable[Any]) -> str:
    """`jaeger.badger.volume_size`, with list positions as `[0]`."""
    key = ""
    for part in location:
        key += f"[{part}]" if isinstance(part, int) else (f".{part}" if key else str(part))
    return key


def _cross_field_problem(key_prefix: str, context: Mapping[str, Any], reason: str) -> ConfigProblem:
    """The problem a cross-field rule (`_fail` with `key=`) points at one key."""
    given = context["error_value"]
    return ConfigProblem(
        key=key_prefix + context["error_key"],
        value="(not set)" if given is None else _show(given),
        reason=reason,
        allowed=context["error_allowed"],
    )


def problems_from(
    error: ValidationError, root: type[BaseModel], prefix: str
) -> list[ConfigProblem]:
    problems = []
    for item in error.errors(include_url=False):
        location = [part for part in item["loc"] if part != "[key]"]
        key = _key_path(location)
        field, _ = _field_at(root, location)
        kind = item["type"]
        if kind == "extra_forbidden":
            parent_field, _ = _field_at(root, location[:-1])
            parent = (
                nested_model(parent_field.annotation) if location[:-1] and parent_field else root
            )
            known = ", ".join(parent.model_fields)
            problems.append(
                ConfigProblem(
                    key=prefix + key,
                    value=_show(item["input"]),
                    reason="unknown key",
                    allowed=f"one of: {known}",
                )
            )
            continue
        context = item.get("ctx") or {}
        reason = "required" if kind == "missing" else item["msg"]
        if "error_key" in context:
            problems.append(
                _cross_field_problem(prefix + (f"{key}." if key else ""), context, reason)
            )
            continue
        value = "(not set)" if kind == "missing" else _show(item["input"])
        if "[key]" in item["loc"]:
            # A map key failed (a namespace name), not the value the field's rule describes.
            problems.append(
                ConfigProblem(
                    key=prefix + key, value=value, reason=reason, allowed=NAMESPACE_ALLOWED
                )
            )
            continue
        problems.append(
            ConfigProblem(
                key=prefix + key,
                value=value,
                reason=reason,
                allowed=_allowed_text(field) if field else "see README",
            )
        )
    return problems


# --- loading ---------------------------------------------------------------------------------


def _merge_defaults(environment: str, raw: Mapping[str, Any]) -> dict[str, Any]:
    merged: dict[str, Any] = dict(raw)
    for section, defaults in ENVIRONMENT_DEFAULTS.get(environment, {}).items():
        given = raw.get(section, {})
        if isinstance(given, Mapping):
            merged[section] = {**defaults, **given}
    return merged


def _secret_paths_in(raw: Mapping[str, Any]) -> list[tuple[str, ...]]:
    present = []
    for path in SECRET_PATHS:
        node: Any = raw
        for part in path:
            node = node.get(part) if isinstance(node, Mapping) else None
        if node is not None:
            present.append(path)
    return present


def _wrap_secrets(raw: dict[str, Any]) -> dict[str, Any]:
    """Strict mode takes SecretStr only as SecretStr; config arrives as plain JSON strings."""
    for path in _secret_paths_in(raw):
        node = raw
        for part in path[:-1]:
            node[part] = dict(node[part])
            node = node[part]
        if isinstance(node[path[-1]], str):
            node[path[-1]] = SecretStr(node[path[-1]])
    return raw


def load_stack_config(
    stack: str,
    raw: Mapping[str, Any],
    secret_keys: Iterable[str] = (),
) -> StackConfig:
    """Validate a stack's `mesh-tracing:` config (keys without the namespace) or raise ConfigError.

    `secret_keys` are the top-level keys Pulumi holds as secrets: a password given in plain text
    is refused, because it would sit unencrypted in the stack file.
    """
    prefix = f"{CONFIG_NAMESPACE}:"
    secret_sections = {key.removeprefix(prefix) for key in secret_keys}
    problems = [
        ConfigProblem(
            key=prefix + ".".join(path),
            value="(plain text)",
            reason="a credential must be stored as a Pulumi secret",
            allowed=f"pulumi config set --secret --path '{'.'.join(path)}' VALUE",
        )
        for path in _secret_paths_in(raw)
        if path[0] not in secret_sections
    ]
    if problems:
        raise ConfigError(stack, problems)
    return validate_configuration(stack, raw, prefix=prefix)


def _require_environment(environment: Any, owner: str, *, key: str, kind: str) -> str:
    """The environment, or ConfigError when it is missing or not one of ours."""
    if environment in ENVIRONMENTS:
        return environment
    problem = ConfigProblem(
        key=key,
        value="(not set)" if environment is None else _show(environment),
        reason="required" if environment is None else "unknown environment",
        allowed="dev, staging or prod",
    )
    raise ConfigError(owner, [problem], kind=kind)


def validate_configuration(
    owner: str, raw: Mapping[str, Any], *, prefix: str = "", kind: str = "stack"
) -> StackConfig:
    """Validate a whole configuration (stack config or component args) or raise ConfigError.

    `owner` is the stack (`kind` "stack") or the component (`kind` "component") named in the
    error.
    """
    environment = _require_environment(
        raw.get("environment"), owner, key=prefix + "environment", kind=kind
    )
    data = _wrap_secrets(_merge_defaults(environment, raw))
    try:
        return StackConfig.model_validate(data, context={"environment": environment})
    except ValidationError as error:
        raise ConfigError(owner, problems_from(error, StackConfig, prefix), kind=kind) from None


def section_name(model: type[BaseModel]) -> str:
    """The stack config key a section model validates (`jaeger` for JaegerConfig)."""
    return next(name for name, candidate in SECTION_MODELS.items() if candidate is model)


def validate_section(
    model: type[_StrictModel], environment: str, values: Mapping[str, Any], *, owner: str
) -> Any:
    """Validate one section for a component used on its own, with the environment's defaults.

    `owner` names the component in the error.
    """
    environment = _require_environment(environment, owner, key="environment", kind="component")
    section = section_name(model)
    defaults = ENVIRONMENT_DEFAULTS[environment].get(section, {})
    data = {**defaults, **{key: value for key, value in values.items() if value is not None}}
    wrapped = _wrap_secrets({section: data})[section]
    try:
        return model.model_validate(wrapped, context={"environment": environment})
    except ValidationError as error:
        raise ConfigError(
            owner, problems_from(error, model, f"{section}."), kind="component"
        ) from None
