"""The five sections of a stack's configuration, and the rules inside each."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal, Optional

from pydantic import Field

from .fields import (
    ChartSource,
    Credential,
    GoDuration,
    HttpUrl,
    ImageRegistry,
    LabelSelector,
    NamespaceName,
    ObjectName,
    PrometheusDuration,
    SamplingPercent,
    StorageQuantity,
    StrictModel,
    Text,
    UrlPath,
    allowed,
)
from .rules import RuleInput, Violation, rule

StorageBackend = Literal["memory", "badger", "elasticsearch", "opensearch"]
KialiAuthStrategy = Literal["anonymous", "token", "openid"]
SEARCH_BACKENDS = ("elasticsearch", "opensearch")
VOLATILE_STORAGE = ("memory", "badger")


class GatewayConfig(StrictModel):
    """An ingress gateway: where the sampling of traffic from outside the mesh is decided."""

    namespace: NamespaceName = Field(description="Namespace the gateway's pods run in.")
    selector: LabelSelector = Field(
        default_factory=lambda: {"istio": "ingressgateway"},
        description="Labels of the gateway's pods.",
    )
    sampling: SamplingPercent = Field(
        description="Sampling percentage of requests entering the mesh through this gateway."
    )
    trust_client_trace_context: Optional[bool] = Field(
        default=None,
        description="Keep the trace context outside clients send (traceparent, b3, "
        "x-client-trace-id, ...), and with it their power to force sampling past `sampling`. "
        "Unset: false in prod (the gateway drops it and starts every trace itself), true "
        "elsewhere.",
    )


class TracingConfig(StrictModel):
    """Sampling and the name of the mesh's tracing extension provider."""

    sampling: Optional[SamplingPercent] = Field(
        default=None,
        description="Mesh-wide sampling percentage, set on the root-namespace Telemetry; "
        "required unless istio.own_mesh_default is false.",
    )
    namespaces: dict[NamespaceName, SamplingPercent] = Field(
        default_factory=dict,
        description="Per-namespace sampling percentages; each gets its own Telemetry.",
    )
    provider_name: NamespaceName = Field(
        default="jaeger-otlp",
        description="Name of the OpenTelemetry extension provider in the mesh config.",
    )
    gateways: list[GatewayConfig] = Field(
        default_factory=list,
        description="Ingress gateways, each with the sampling of the requests entering through "
        "it; each gets a Telemetry selecting its pods.",
    )


class IstioConfig(StrictModel):
    """Where Istio lives and whether this stack installs its control plane."""

    install: bool = Field(
        description="Install Istio's base and istiod charts; false leaves the control plane alone "
        "and exports the mesh config to merge.",
    )
    own_mesh_default: bool = Field(
        default=True,
        description="This stack owns the mesh-wide Telemetry in the root namespace; false when "
        "another stack owns it and this one only adds per-namespace overrides.",
    )
    root_namespace: NamespaceName = Field(
        default="istio-system",
        description="Istio root namespace: the mesh-wide Telemetry goes here.",
    )
    istiod_replicas: int = Field(
        ge=1, le=10, description="istiod replicas when this stack installs Istio."
    )


class SearchStoreConfig(StrictModel):
    """An external Elasticsearch or OpenSearch cluster holding the spans."""

    url: HttpUrl = Field(description="Cluster URL.")
    username: Optional[Text] = Field(
        default=None,
        description="User name; the password comes from `password` (a Pulumi secret).",
    )
    password: Optional[Credential] = Field(
        default=None, description="Password, set with `pulumi config set --secret --path`."
    )
    existing_secret: Optional[ObjectName] = Field(
        default=None,
        description="Name of an existing Kubernetes Secret in the Jaeger namespace with keys "
        "`username` and `password`.",
    )
    index_prefix: Optional[NamespaceName] = Field(
        default=None, description="Index prefix, for clusters shared between environments."
    )

    @property
    def has_credentials(self) -> bool:
        return self.password is not None or self.existing_secret is not None


@rule(SearchStoreConfig, reads=("username", "password", "existing_secret"))
def _one_credential_source(given: RuleInput) -> Iterator[Violation]:
    username, password = given.get("username"), given.get("password")
    existing_secret = given.get("existing_secret")
    if (username is not None or password is not None) and existing_secret is not None:
        yield Violation(
            "existing_secret",
            existing_secret,
            "set either username and password, or existing_secret, not both",
            "unset when username and password are set",
        )
    if (username is None) != (password is None):
        yield Violation(
            "password" if password is None else "username",
            None,
            "username and password go together",
            "set together with the other one",
        )


class BadgerConfig(StrictModel):
    """Badger on a PersistentVolumeClaim: one replica, data on its own disk."""

    volume_size: StorageQuantity = Field(
        default="10Gi", description="Size of the PersistentVolumeClaim."
    )
    storage_class: Optional[ObjectName] = Field(
        default=None, description="StorageClass of the claim; the cluster default when unset."
    )
    span_retention: GoDuration = Field(default="72h", description="How long spans are kept.")


class JaegerConfig(StrictModel):
    """The Jaeger v2 backend."""

    namespace: NamespaceName = Field(
        default="observability", description="Namespace of the Jaeger release."
    )
    storage: StorageBackend = Field(
        description="Span storage.",
        json_schema_extra=allowed(
            "memory, badger, elasticsearch or opensearch; not memory or badger in prod"
        ),
    )
    replicas: int = Field(
        ge=1, le=20, description="Jaeger replicas; more than one needs elasticsearch or opensearch."
    )
    # Measured (benchmarks/collector.py): about 24 KB of heap per trace of 8 Envoy spans, so
    # 40,000 traces fill the memory storage's 1 GiB limit; 20,000 leave it half free.
    memory_max_traces: int = Field(
        default=20_000,
        ge=1_000,
        le=40_000,
        description="Traces kept by memory storage before the oldest are dropped.",
    )
    badger: BadgerConfig = Field(
        default_factory=BadgerConfig, description="Badger settings, used when storage is badger."
    )
    elasticsearch: Optional[SearchStoreConfig] = Field(
        default=None,
        description="The Elasticsearch cluster, required when storage is elasticsearch.",
    )
    opensearch: Optional[SearchStoreConfig] = Field(
        default=None, description="The OpenSearch cluster, required when storage is opensearch."
    )
    query_base_path: UrlPath = Field(
        default="/jaeger", description="Base path of the Jaeger UI and query API."
    )
    external_url: Optional[HttpUrl] = Field(
        default=None,
        description="Browser-facing Jaeger UI URL, for Kiali's links and the stack output.",
    )
    network_policy: bool = Field(
        default=True,
        description="A NetworkPolicy on the Jaeger pods: OTLP from anywhere in the mesh, queries "
        "only from Kiali and query_ingress_namespaces.",
    )
    query_ingress_namespaces: list[NamespaceName] = Field(
        default_factory=list,
        description="Namespaces (an ingress controller's) whose pods may reach the Jaeger UI and "
        "query API.",
    )

    @property
    def search_store(self) -> Optional[SearchStoreConfig]:
        return self.elasticsearch or self.opensearch


@rule(JaegerConfig, reads=("storage",))
def _durable_in_production(given: RuleInput) -> Iterator[Violation]:
    storage = given.get("storage")
    if given.production and storage in VOLATILE_STORAGE:
        yield Violation(
            "storage",
            storage,
            f"prod keeps spans in elasticsearch or opensearch, not {storage}",
            "elasticsearch or opensearch in prod",
        )


@rule(JaegerConfig, reads=("storage", "replicas"))
def _volatile_storage_in_one_pod(given: RuleInput) -> Iterator[Violation]:
    storage, replicas = given.get("storage"), given.get("replicas")
    if storage in VOLATILE_STORAGE and replicas != 1:
        yield Violation(
            "replicas",
            replicas,
            f"{storage} storage lives inside one pod; run 1 replica or use elasticsearch or "
            "opensearch",
            f"1 with {storage} storage",
        )


@rule(JaegerConfig, reads=("storage", "elasticsearch?", "opensearch?"))
def _search_cluster_matches_storage(given: RuleInput) -> Iterator[Violation]:
    storage = given.get("storage")
    for backend in SEARCH_BACKENDS:
        section = given.get(backend)
        if storage == backend and section is None:
            yield Violation(
                f"{backend}.url",
                None,
                f"storage {backend} needs the cluster's URL",
                "an absolute http(s) URL",
            )
        if storage != backend and section is not None:
            yield Violation(
                backend,
                section,
                f"this cluster is not used: storage is {storage}",
                f"unset unless storage is {backend}",
            )


@rule(
    JaegerConfig,
    reads=(
        "storage",
        "elasticsearch.username",
        "opensearch.username",
        "elasticsearch.password",
        "elasticsearch.existing_secret",
        "opensearch.password",
        "opensearch.existing_secret",
    ),
)
def _credentials_in_production(given: RuleInput) -> Iterator[Violation]:
    storage = given.get("storage")
    if not given.production or storage not in SEARCH_BACKENDS or given.get(storage) is None:
        return
    # A user name without a password is the credential-pair rule's to report.
    if all(
        given.get(f"{storage}.{key}") is None for key in ("username", "password", "existing_secret")
    ):
        yield Violation(
            f"{storage}.password",
            None,
            f"prod needs credentials for {storage}",
            "username with a secret password, or existing_secret",
        )


@rule(JaegerConfig, reads=("external_url", "network_policy", "query_ingress_namespaces"))
def _advertised_ui_is_reachable(given: RuleInput) -> Iterator[Violation]:
    if (
        given.get("external_url") is not None
        and given.get("network_policy")
        and not given.get("query_ingress_namespaces")
    ):
        yield Violation(
            "query_ingress_namespaces",
            [],
            "jaeger.external_url is advertised, but the NetworkPolicy admits the query ports "
            "only from Kiali, so no ingress controller or gateway can serve that URL",
            "the namespaces of the ingress controller or gateway serving external_url, or "
            "network_policy: false",
        )


class PrometheusConfig(StrictModel):
    """The Prometheus Kiali reads: an existing one by URL, or one this stack installs."""

    install: bool = Field(
        description="Install the prometheus chart with Istio's scrape configuration."
    )
    url: Optional[HttpUrl] = Field(
        default=None, description="URL of an existing Prometheus, when install is false."
    )
    namespace: NamespaceName = Field(
        default="observability", description="Namespace of the installed Prometheus."
    )
    retention: PrometheusDuration = Field(
        default="15d", description="How long the installed Prometheus keeps samples."
    )
    volume_size: StorageQuantity = Field(
        default="8Gi", description="Size of the installed Prometheus' PersistentVolumeClaim."
    )


@rule(PrometheusConfig, reads=("install", "url"))
def _one_prometheus(given: RuleInput) -> Iterator[Violation]:
    install, url = given.get("install"), given.get("url")
    if install and url is not None:
        yield Violation(
            "url", url, "an installed Prometheus has its own URL", "unset when install is true"
        )
    if not install and url is None:
        yield Violation(
            "url",
            None,
            "Kiali needs a Prometheus",
            "the URL of an existing Prometheus, or install: true",
        )


class OpenIdConfig(StrictModel):
    """Kiali's OpenID Connect client."""

    issuer_uri: HttpUrl = Field(description="Issuer URI of the identity provider.")
    client_id: Text = Field(description="OAuth client id.")
    client_secret: Credential = Field(
        description="OAuth client secret, set with `pulumi config set --secret --path`."
    )
    username_claim: Text = Field(default="sub", description="Token claim used as the user name.")
    scopes: list[Text] = Field(
        default_factory=lambda: ["openid", "profile", "email"],
        description="Scopes requested from the identity provider.",
    )


class KialiConfig(StrictModel):
    """Kiali, wired to Jaeger and Prometheus."""

    namespace: NamespaceName = Field(
        default="observability", description="Namespace of the Kiali release."
    )
    auth: KialiAuthStrategy = Field(
        description="Login strategy; anonymous only in dev.",
        json_schema_extra=allowed("anonymous (dev only), token or openid"),
    )
    view_only: bool = Field(description="Hide every action that changes the cluster.")
    replicas: int = Field(ge=1, le=10, description="Kiali replicas.")
    use_grpc: bool = Field(
        default=True,
        description="Query Jaeger over gRPC (port 16685) rather than HTTP (port 16686).",
    )
    external_url: Optional[HttpUrl] = Field(
        default=None, description="Browser-facing Kiali URL, for the stack output."
    )
    openid: Optional[OpenIdConfig] = Field(
        default=None, description="OpenID Connect settings, required when auth is openid."
    )


@rule(KialiConfig, reads=("auth",))
def _anonymous_only_in_dev(given: RuleInput) -> Iterator[Violation]:
    if given.environment is None:
        return
    auth = given.get("auth")
    if auth == "anonymous" and (given.environment != "dev" or given.production):
        where = "production" if given.production else given.environment
        yield Violation(
            "auth",
            auth,
            f"anonymous Kiali is for dev only, not {where}",
            "token or openid outside dev",
        )


@rule(KialiConfig, reads=("auth", "openid?"))
def _openid_matches_auth(given: RuleInput) -> Iterator[Violation]:
    auth, openid = given.get("auth"), given.get("openid")
    if auth == "openid" and openid is None:
        yield Violation(
            "openid",
            None,
            "auth openid needs the OpenID client",
            "an object with issuer_uri, client_id, client_secret",
        )
    if auth != "openid" and openid is not None:
        yield Violation(
            "openid", openid, f"not used: auth is {auth}", "unset unless auth is openid"
        )


class ChartsConfig(StrictModel):
    """Where the pinned Helm charts come from."""

    source: Optional[ChartSource] = Field(
        default=None,
        description="A chart repository that mirrors every chart we install (http(s):// or "
        "oci://), or a local directory holding each as <name>/ or <name>-<version>.tgz; unset: "
        "each chart's upstream repository.",
    )


class ImagesConfig(StrictModel):
    """Where the images of everything we deploy are pulled from."""

    registry: Optional[ImageRegistry] = Field(
        default=None,
        description="A registry (host and optional path) that replaces the registry of every "
        "image we deploy: Jaeger, Kiali, Prometheus and its config reloader, istiod and the "
        "sidecar proxy. Unset: each image's own registry.",
    )
