"""Component args: plain TypedDicts that Pulumi's component schema inference accepts.

The same shapes serve Python callers and, through the component package, every other Pulumi
language, so they use only what the schema inference understands: TypedDicts, lists, string-keyed
dicts, scalars, `pulumi.Input` and `Optional` (no other unions, no `Annotated`). The string after
each key is its description in the generated schema. Values are validated by the pydantic models in
`mesh_tracing.config`, with the same rules and messages as stack configuration.
"""

# No `from __future__ import annotations` here or in the component modules: the component
# schema inference reads these annotations as live types.
from typing import Optional

import pulumi

try:
    from typing import Required, TypedDict
except ImportError:  # Python 3.10
    from typing_extensions import Required, TypedDict


class GatewaySettings(TypedDict, total=False):
    """An ingress gateway, where the sampling of traffic from outside the mesh is decided."""

    namespace: Required[str]
    """Namespace the gateway's pods run in."""
    selector: dict[str, str]
    """Labels of the gateway's pods (default istio: ingressgateway)."""
    sampling: Required[float]
    """Sampling percentage of requests entering through this gateway; at most 5 in prod."""
    trust_client_trace_context: bool
    """Keep the trace context outside clients send (and their power to force sampling); default
    false in prod, true elsewhere."""


class TracingSettings(TypedDict, total=False):
    """Trace sampling for the mesh and per namespace."""

    sampling: float
    """Mesh-wide sampling percentage, 0 to 100 in steps of 0.01; at most 5 in prod. Required
    unless istio.own_mesh_default is false."""
    namespaces: dict[str, float]
    """Per-namespace sampling percentages, each on its own Telemetry resource."""
    provider_name: str
    """Name of the OpenTelemetry tracing extension provider in the mesh config."""
    gateways: list[GatewaySettings]
    """Ingress gateways with the sampling of the requests entering through each."""


class IstioSettings(TypedDict, total=False):
    """Where Istio lives and whether to install its control plane."""

    install: bool
    """Install Istio's base and istiod charts (default: true in dev only)."""
    own_mesh_default: bool
    """Own the mesh-wide Telemetry (default true); false adds per-namespace overrides only."""
    root_namespace: str
    """Istio root namespace, home of the mesh-wide Telemetry (default istio-system)."""
    istiod_replicas: int
    """istiod replicas when Istio is installed."""


class BadgerSettings(TypedDict, total=False):
    """Badger storage on a PersistentVolumeClaim."""

    volume_size: str
    """Size of the claim, a Kubernetes quantity (default 10Gi)."""
    storage_class: str
    """StorageClass of the claim; the cluster default when unset."""
    span_retention: str
    """How long spans are kept, a duration (default 72h)."""


class SearchStoreSettings(TypedDict, total=False):
    """An external Elasticsearch or OpenSearch cluster."""

    url: Required[str]
    """Cluster URL."""
    username: str
    """User name; goes with password."""
    password: pulumi.Input[str]
    """Password; pass a Pulumi secret."""
    existing_secret: str
    """Existing Secret in the Jaeger namespace with keys username and password."""
    index_prefix: str
    """Index prefix, for clusters shared between environments."""


class JaegerSettings(TypedDict, total=False):
    """The Jaeger v2 backend."""

    namespace: str
    """Namespace of the Jaeger release (default observability)."""
    storage: str
    """memory, badger, elasticsearch or opensearch (default by environment)."""
    replicas: int
    """Jaeger replicas; more than one needs elasticsearch or opensearch."""
    memory_max_traces: int
    """Traces kept by memory storage."""
    badger: BadgerSettings
    """Badger settings, when storage is badger."""
    elasticsearch: SearchStoreSettings
    """The Elasticsearch cluster, when storage is elasticsearch."""
    opensearch: SearchStoreSettings
    """The OpenSearch cluster, when storage is opensearch."""
    query_base_path: str
    """Base path of the Jaeger UI and query API (default /jaeger)."""
    external_url: str
    """Browser-facing Jaeger UI URL."""
    network_policy: bool
    """NetworkPolicy on the Jaeger pods (default true)."""
    query_ingress_namespaces: list[str]
    """Namespaces (an ingress controller's) allowed to reach the Jaeger UI and query API."""


class PrometheusSettings(TypedDict, total=False):
    """The Prometheus Kiali reads."""

    install: bool
    """Install the prometheus chart with Istio's scrape configuration."""
    url: str
    """URL of an existing Prometheus, when install is false."""
    namespace: str
    """Namespace of the installed Prometheus."""
    retention: str
    """How long the installed Prometheus keeps samples."""
    volume_size: str
    """Size of the installed Prometheus' volume."""


class OpenIdSettings(TypedDict, total=False):
    """Kiali's OpenID Connect client."""

    issuer_uri: Required[str]
    """Issuer URI of the identity provider."""
    client_id: Required[str]
    """OAuth client id."""
    client_secret: Required[pulumi.Input[str]]
    """OAuth client secret; pass a Pulumi secret."""
    username_claim: str
    """Token claim used as the user name (default sub)."""
    scopes: list[str]
    """Scopes requested (default openid, profile, email)."""


class KialiSettings(TypedDict, total=False):
    """Kiali."""

    namespace: str
    """Namespace of the Kiali release (default observability)."""
    auth: str
    """anonymous (dev only), token or openid."""
    view_only: bool
    """Hide every action that changes the cluster."""
    replicas: int
    """Kiali replicas."""
    use_grpc: bool
    """Query Jaeger over gRPC rather than HTTP (default true)."""
    external_url: str
    """Browser-facing Kiali URL."""
    openid: OpenIdSettings
    """OpenID Connect settings, when auth is openid."""


class ChartSettings(TypedDict, total=False):
    """Where the pinned Helm charts come from."""

    source: str
    """A chart repository mirroring every chart we install (http(s):// or oci://), or a local
    directory holding each as <name>/ or <name>-<version>.tgz; unset: upstream repositories."""


class ImageSettings(TypedDict, total=False):
    """Where images are pulled from."""

    registry: str
    """A registry (host and optional path) replacing the registry of every image we deploy."""


class JaegerArgs(TypedDict, total=False):
    """Arguments of the Jaeger component."""

    environment: Required[str]
    """dev, staging or prod: picks defaults and the production rules."""
    jaeger: JaegerSettings
    """The Jaeger settings, as under `mesh-tracing:jaeger` in stack config."""
    charts: ChartSettings
    """Where the pinned charts come from (default: their upstream repositories)."""
    images: ImageSettings
    """Where images are pulled from (default: each image's own registry)."""
    kiali_namespace: Optional[str]
    """Namespace of the Kiali allowed to query this Jaeger through its NetworkPolicy."""


class IstioTracingArgs(TypedDict, total=False):
    """Arguments of the IstioTracing component."""

    environment: Required[str]
    """dev, staging or prod: picks defaults and the production sampling cap."""
    tracing: Required[TracingSettings]
    """Sampling, mesh-wide and per namespace."""
    istio: IstioSettings
    """Istio installation settings."""
    charts: ChartSettings
    """Where the pinned charts come from (default: their upstream repositories)."""
    images: ImageSettings
    """Where images are pulled from (default: each image's own registry)."""
    otlp_service_host: Required[pulumi.Input[str]]
    """Cluster DNS name of the OTLP gRPC service traces are sent to."""
    otlp_port: Required[pulumi.Input[int]]
    """Port of the OTLP gRPC service."""


class PrometheusArgs(TypedDict, total=False):
    """Arguments of the Prometheus component."""

    environment: Required[str]
    """dev, staging or prod: picks defaults."""
    prometheus: PrometheusSettings
    """The Prometheus settings, as under `mesh-tracing:prometheus` in stack config."""
    charts: ChartSettings
    """Where the pinned charts come from (default: their upstream repositories)."""
    images: ImageSettings
    """Where images are pulled from (default: each image's own registry)."""


class KialiArgs(TypedDict, total=False):
    """Arguments of the Kiali component."""

    environment: Required[str]
    """dev, staging or prod: anonymous access is refused outside dev."""
    kiali: KialiSettings
    """The Kiali settings, as under `mesh-tracing:kiali` in stack config."""
    charts: ChartSettings
    """Where the pinned charts come from (default: their upstream repositories)."""
    images: ImageSettings
    """Where images are pulled from (default: each image's own registry)."""
    jaeger_query_url: Required[pulumi.Input[str]]
    """Jaeger's query URL: gRPC (port 16685) when kiali.use_grpc, else HTTP with the base path."""
    jaeger_external_url: Optional[str]
    """Browser-facing Jaeger UI URL, for Kiali's trace links."""
    prometheus_url: Required[pulumi.Input[str]]
    """URL of the Prometheus Kiali reads."""
    istio_root_namespace: str
    """The mesh's root namespace (istio.root_namespace; default istio-system)."""


class MeshObservabilityArgs(TypedDict, total=False):
    """Arguments of the MeshObservability component: the whole stack configuration."""

    environment: Required[str]
    """dev, staging or prod."""
    tracing: Required[TracingSettings]
    """Sampling, mesh-wide and per namespace."""
    istio: IstioSettings
    """Istio installation settings."""
    jaeger: JaegerSettings
    """The Jaeger v2 backend."""
    prometheus: PrometheusSettings
    """The Prometheus Kiali reads."""
    kiali: KialiSettings
    """Kiali."""
    charts: ChartSettings
    """Where the pinned charts come from (default: their upstream repositories)."""
    images: ImageSettings
    """Where images are pulled from (default: each image's own registry)."""
