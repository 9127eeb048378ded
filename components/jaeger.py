"""The Jaeger component: a Jaeger v2 backend from the upstream chart."""

from typing import Any, Optional

import pulumi
import pulumi_kubernetes as k8s

from .args import JaegerArgs
from .config import JaegerComponentConfig, JaegerConfig
from .helm import pinned_release
from .inputs import BuiltFromConfig, parse_args, secret_output
from .options import child_options
from .specs.charts import JAEGER_CHART
from .specs.jaeger import (
    CREDENTIAL_PASSWORD_KEY,
    CREDENTIAL_USERNAME_KEY,
    jaeger_endpoints,
    jaeger_values,
    network_policy_spec,
    selector_labels,
)

RELEASE_NAME = "jaeger"


class Jaeger(BuiltFromConfig[JaegerComponentConfig], pulumi.ComponentResource):
    """Jaeger v2 (the upstream `jaeger` chart) with memory, badger or Elasticsearch/OpenSearch
    storage, kept out of the mesh, taking OTLP on 4317 and queries on 16686 (HTTP) and 16685
    (gRPC)."""

    otlp_grpc_host: pulumi.Output[str]
    """Cluster DNS name of the Service that receives OTLP over gRPC."""
    otlp_grpc_port: pulumi.Output[int]
    """Port of OTLP over gRPC on that Service."""
    otlp_grpc_endpoint: pulumi.Output[str]
    """host:port of OTLP over gRPC."""
    query_http_url: pulumi.Output[str]
    """Jaeger query and UI over HTTP, with the base path."""
    query_grpc_url: pulumi.Output[str]
    """Jaeger query over gRPC."""
    ui_url: pulumi.Output[str]
    """The Jaeger UI: the external URL when one is set, else the in-cluster one."""

    def __init__(
        self,
        name: str,
        args: JaegerArgs,
        opts: Optional[pulumi.ResourceOptions] = None,
    ) -> None:
        self._create(name, parse_args(name, JaegerComponentConfig, args), opts)

    def _create(
        self, name: str, config: JaegerComponentConfig, opts: Optional[pulumi.ResourceOptions]
    ) -> None:
        super().__init__("mesh-tracing:index:Jaeger", name, {}, opts)
        settings = config.jaeger
        child = child_options(self, opts)
        production = config.environment == "prod"

        credentials_secret, created_secret = self._credentials_secret(name, settings, child)
        badger_claim = self._badger_claim(name, settings, child)
        # The pods mount the claim and read the Secret at start: both exist before the release.
        prerequisites = [resource for resource in (badger_claim, created_secret) if resource]

        release = pinned_release(
            f"{name}-release",
            JAEGER_CHART,
            release_name=RELEASE_NAME,
            namespace=settings.namespace,
            values=jaeger_values(
                settings,
                badger_claim=badger_claim.metadata.name if badger_claim else None,
                credentials_secret=credentials_secret,
                image_registry=config.images.registry,
            ),
            charts=config.charts,
            atomic=production,
            opts=pulumi.ResourceOptions.merge(
                child,
                pulumi.ResourceOptions(depends_on=prerequisites),
            ),
        )
        if settings.network_policy:
            k8s.networking.v1.NetworkPolicy(
                f"{name}-network-policy",
                metadata={"name": RELEASE_NAME, "namespace": settings.namespace},
                spec=network_policy_spec(
                    RELEASE_NAME, config.kiali_namespace, settings.query_ingress_namespaces
                ),
                opts=child,
            )
        if settings.replicas > 1:
            k8s.policy.v1.PodDisruptionBudget(
                f"{name}-pdb",
                metadata={"name": RELEASE_NAME, "namespace": settings.namespace},
                spec={
                    "maxUnavailable": 1,
                    "selector": {"matchLabels": selector_labels(RELEASE_NAME)},
                },
                opts=pulumi.ResourceOptions.merge(
                    child, pulumi.ResourceOptions(depends_on=[release])
                ),
            )

        # From the names we give the release, not from its outputs: Kiali and the mesh config
        # need not wait for Jaeger to be ready (Kiali retries, proxies drop spans until it
        # answers), so the releases install side by side (benchmarks/deploy.py), and a preview
        # shows the URLs instead of unknowns.
        endpoints = pulumi.Output.from_input(
            jaeger_endpoints(RELEASE_NAME, settings.namespace, settings.query_base_path)
        )
        self.otlp_grpc_host = endpoints.apply(lambda e: e["service_host"])
        self.otlp_grpc_port = endpoints.apply(lambda e: e["otlp_grpc_port"])
        self.otlp_grpc_endpoint = endpoints.apply(lambda e: e["otlp_grpc_endpoint"])
        self.query_http_url = endpoints.apply(lambda e: e["query_http_url"])
        self.query_grpc_url = endpoints.apply(lambda e: e["query_grpc_url"])
        self.ui_url = (
            pulumi.Output.from_input(settings.external_url)
            if settings.external_url
            else self.query_http_url
        )
        self.register_outputs(
            {
                "otlp_grpc_host": self.otlp_grpc_host,
                "otlp_grpc_port": self.otlp_grpc_port,
                "otlp_grpc_endpoint": self.otlp_grpc_endpoint,
                "query_http_url": self.query_http_url,
                "query_grpc_url": self.query_grpc_url,
                "ui_url": self.ui_url,
            }
        )

    @staticmethod
    def _credentials_secret(
        name: str, settings: JaegerConfig, child: pulumi.ResourceOptions
    ) -> tuple[Optional[str], Optional[k8s.core.v1.Secret]]:
        """The name of the Secret Jaeger reads storage credentials from, and that Secret when
        this component creates it (credentials given as Pulumi secrets)."""
        store = settings.search_store
        if store is None or not store.has_credentials:
            return None, None
        if store.existing_secret is not None:
            return store.existing_secret, None
        secret_name = f"{RELEASE_NAME}-storage-credentials"
        secret = k8s.core.v1.Secret(
            f"{name}-storage-credentials",
            metadata={"name": secret_name, "namespace": settings.namespace},
            string_data={
                CREDENTIAL_USERNAME_KEY: store.username,
                CREDENTIAL_PASSWORD_KEY: secret_output(store.password),
            },
            opts=child,
        )
        return secret_name, secret

    @staticmethod
    def _badger_claim(
        name: str, settings: JaegerConfig, child: pulumi.ResourceOptions
    ) -> Optional[k8s.core.v1.PersistentVolumeClaim]:
        if settings.storage != "badger":
            return None
        spec: dict[str, Any] = {
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": settings.badger.volume_size}},
        }
        if settings.badger.storage_class is not None:
            spec["storageClassName"] = settings.badger.storage_class
        # The spans outlive the release: a destroyed stack or a renamed resource leaves the claim
        # in the cluster. (Production never gets here: it keeps spans in a search cluster.)
        return k8s.core.v1.PersistentVolumeClaim(
            f"{name}-badger",
            metadata={"name": f"{RELEASE_NAME}-badger", "namespace": settings.namespace},
            spec=spec,
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(retain_on_delete=True)),
        )
