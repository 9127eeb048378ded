"""The sampling cap as an adversarial reviewer tries it: every way a production stack could sample
above 5 %, each sent to the pack as a process over gRPC, and each refused with a mandatory
violation that names the resource, the field and what to do; and the other side, settings that
are within the cap or are not production, which pass clean.

Keep the tables growing: a knob found is a row.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from support import NS
from support.analyzer import running_pack

ADVISORY, MANDATORY = 0, 1
TELEMETRY_POLICY = "telemetry-sampling-cap"
LEGACY_POLICY = "istio-legacy-sampling-cap"
UNKNOWN_POLICY = "sampling-unknown-at-preview"
SAMPLING_POLICIES = {TELEMETRY_POLICY, LEGACY_POLICY, UNKNOWN_POLICY}

RELEASE = "kubernetes:helm.sh/v3:Release"
CHART_V4 = "kubernetes:helm.sh/v4:Chart"
TELEMETRY = "kubernetes:telemetry.istio.io/v1:Telemetry"
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
OPERATOR = "kubernetes:install.istio.io/v1alpha1:IstioOperator"
ENVOY_FILTER = "kubernetes:networking.istio.io/v1alpha3:EnvoyFilter"

UNKNOWN_NUMBER = "3eeb2bf0-c639-47a8-9e75-3b44932eb421"
UNKNOWN_STRING = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
UNKNOWN_OBJECT = "dd056dcd-154b-4c76-9bd3-c8f88648b5ff"
UNKNOWN_ARRAY = "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2"
_ASSET = {"4dabf18193072939515e22adb298388d": "c44067f5952c0a294b673a41bacd8c17", "hash": ""}


def file_asset(path: str) -> dict:
    return {**_ASSET, "path": path}


def string_asset(text: str) -> dict:
    return {**_ASSET, "text": text}


def remote_asset(uri: str) -> dict:
    return {**_ASSET, "uri": uri}


def telemetry(*rules: dict, kind: str = "Telemetry", version: str = "v1") -> dict:
    return {
        "apiVersion": f"telemetry.istio.io/{version}",
        "kind": kind,
        "metadata": {"name": "mesh-default", "namespace": "istio-system"},
        "spec": {"tracing": list(rules)},
    }


def rule(percentage: Any = None) -> dict:
    found: dict = {"providers": [{"name": "jaeger-otlp"}]}
    if percentage is not None:
        found["randomSamplingPercentage"] = percentage
    return found


def release(chart: str = "istiod", values: Any = None, **extra: Any) -> dict:
    return {
        "chart": chart,
        "name": "istiod",
        "namespace": "istio-system",
        "values": {} if values is None else values,
        **extra,
    }


def mesh_map(mesh: str, name: str = "istio") -> dict:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": "istio-system"},
        "data": {"mesh": mesh},
    }


def workload(
    annotations: dict | None = None, env: list | str | None = None, kind: str = "Deployment"
) -> dict:
    container: dict = {"name": "app", "image": "example/app:1"}
    if env is not None:
        container["env"] = env
    return {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": {"name": "shop", "namespace": "shop"},
        "spec": {
            "template": {
                "metadata": {"annotations": annotations or {}},
                "spec": {"containers": [container]},
            }
        },
    }


def istiod_env(*entries: dict) -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "istiod", "namespace": "istio-system"},
        "spec": {
            "template": {"spec": {"containers": [{"name": "discovery", "env": list(entries)}]}}
        },
    }


def operator(spec: dict) -> dict:
    return {
        "apiVersion": "install.istio.io/v1alpha1",
        "kind": "IstioOperator",
        "metadata": {"name": "control-plane", "namespace": "istio-system"},
        "spec": spec,
    }


def envoy_filter(value: dict, operation: str = "MERGE") -> dict:
    return {
        "apiVersion": "networking.istio.io/v1alpha3",
        "kind": "EnvoyFilter",
        "metadata": {"name": "tweak", "namespace": "istio-ingress"},
        "spec": {
            "configPatches": [
                {
                    "applyTo": "NETWORK_FILTER",
                    "match": {"context": "GATEWAY"},
                    "patch": {"operation": operation, "value": value},
                }
            ]
        },
    }


def hcm(**fields: Any) -> dict:
    return {
        "name": "envoy.filters.network.http_connection_manager",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.network."
            "http_connection_manager.v3.HttpConnectionManager",
            **fields,
        },
    }


PROXY_CONFIG_100 = "tracing:\n  sampling: 100\n"
MESH_100 = "defaultConfig:\n  tracing:\n    sampling: 100\n"

# (resource type, inputs, policy that must refuse it, fragments its message must hold)
ATTACKS = [
    # --- Patch types: server-side apply onto the live objects ---------------------------------
    pytest.param(
        "kubernetes:telemetry.istio.io/v1:TelemetryPatch",
        telemetry(rule(100)),
        TELEMETRY_POLICY,
        ["TelemetryPatch 'attack'", "spec.tracing[0].randomSamplingPercentage = 100", "cap of 5"],
        id="telemetry-patch-100",
    ),
    pytest.param(
        "kubernetes:telemetry.istio.io/v1:TelemetryPatch",
        telemetry(rule(None)),
        TELEMETRY_POLICY,
        ["randomSamplingPercentage is missing", "at most 5"],
        id="telemetry-patch-drops-the-percentage",
    ),
    pytest.param(
        "kubernetes:core/v1:ConfigMapPatch",
        mesh_map(MESH_100),
        LEGACY_POLICY,
        ["ConfigMapPatch 'attack'", "data.mesh: defaultConfig.tracing.sampling = 100", "cap of 5"],
        id="configmap-patch-mesh-100",
    ),
    pytest.param(
        "kubernetes:apps/v1:DeploymentPatch",
        istiod_env({"name": "PILOT_TRACE_SAMPLING", "value": "100"}),
        LEGACY_POLICY,
        ["DeploymentPatch 'attack'", "containers[0].env[0].value = 100", "PILOT_TRACE_SAMPLING"],
        id="deployment-patch-istiod-env",
    ),
    pytest.param(
        "kubernetes:apps/v1:DeploymentPatch",
        istiod_env(
            {
                "name": "PILOT_TRACE_SAMPLING",
                "valueFrom": {"configMapKeyRef": {"name": "x", "key": "rate"}},
            }
        ),
        LEGACY_POLICY,
        ["env[0].valueFrom", "another object the pack cannot read", "set its value inline"],
        id="deployment-patch-istiod-env-from-a-map",
    ),
    # --- Telemetry at every API version, and as a generic resource ---------------------------
    pytest.param(
        "kubernetes:telemetry.istio.io/v1alpha1:Telemetry",
        telemetry(rule(20), version="v1alpha1"),
        TELEMETRY_POLICY,
        ["randomSamplingPercentage = 20"],
        id="telemetry-v1alpha1",
    ),
    pytest.param(
        "kubernetes:telemetry.istio.io/v1beta1:Telemetry",
        telemetry(rule(1), rule("50"), version="v1beta1"),
        TELEMETRY_POLICY,
        ["spec.tracing[1].randomSamplingPercentage = 50"],
        id="telemetry-any-version-string-percentage",
    ),
    pytest.param(
        "kubernetes:core/v1:ConfigMap",
        telemetry(rule(30)),
        TELEMETRY_POLICY,
        ["randomSamplingPercentage = 30"],
        id="telemetry-inputs-under-another-type-token",
    ),
    # --- the istiod chart ---------------------------------------------------------------------
    pytest.param(
        RELEASE,
        release(values={"profile": "demo"}),
        LEGACY_POLICY,
        ["values.profile", "'demo'", "traceSampling 100", "ambient"],
        id="istiod-profile-demo",
    ),
    pytest.param(
        RELEASE,
        release(values={"global": {"profile": "demo"}}),
        LEGACY_POLICY,
        ["values.global.profile"],
        id="istiod-global-profile-demo",
    ),
    pytest.param(
        CHART_V4,
        release(values={"profile": "demo"}),
        LEGACY_POLICY,
        ["Chart 'attack' (kubernetes:helm.sh/v4:Chart)", "values.profile"],
        id="istiod-v4-chart-profile-demo",
    ),
    pytest.param(
        RELEASE,
        release(values={"profile": "my-own"}),
        LEGACY_POLICY,
        ["values.profile", "'my-own'"],
        id="istiod-profile-unknown",
    ),
    pytest.param(
        RELEASE,
        release(values={"platform": "bespoke"}),
        LEGACY_POLICY,
        ["values.platform"],
        id="istiod-platform-unknown",
    ),
    pytest.param(
        RELEASE,
        release(values={"compatibilityVersion": "0.9"}),
        LEGACY_POLICY,
        ["values.compatibilityVersion"],
        id="istiod-compatibility-version-unknown",
    ),
    pytest.param(
        RELEASE,
        release(values={"env": {"PILOT_TRACE_SAMPLING": "100"}}),
        LEGACY_POLICY,
        ["values.env.PILOT_TRACE_SAMPLING = 100"],
        id="istiod-env-value",
    ),
    pytest.param(
        RELEASE,
        release(values={"pilot": {"env": {"PILOT_TRACE_SAMPLING": 50}}}),
        LEGACY_POLICY,
        ["values.pilot.env.PILOT_TRACE_SAMPLING = 50"],
        id="istiod-pilot-env-value",
    ),
    pytest.param(
        RELEASE,
        release(
            values={
                "envVarFrom": [
                    {
                        "name": "PILOT_TRACE_SAMPLING",
                        "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}},
                    }
                ]
            }
        ),
        LEGACY_POLICY,
        ["values.envVarFrom[0].valueFrom"],
        id="istiod-env-var-from",
    ),
    pytest.param(
        RELEASE,
        release(values={"traceSampling": "1e3"}),
        LEGACY_POLICY,
        ["values.traceSampling = 1e3"],
        id="istiod-trace-sampling-exponent",
    ),
    pytest.param(
        RELEASE,
        release(values={"traceSampling": True}),
        LEGACY_POLICY,
        ["values.traceSampling", "not a number"],
        id="istiod-trace-sampling-not-a-number",
    ),
    pytest.param(
        RELEASE,
        release(values={"_internal_defaults_do_not_set": {"traceSampling": 100}}),
        LEGACY_POLICY,
        ["values._internal_defaults_do_not_set.traceSampling = 100"],
        id="istiod-internal-defaults",
    ),
    pytest.param(
        RELEASE,
        release(valueYamlFiles=[file_asset("values-prod.yaml")]),
        LEGACY_POLICY,
        ["valueYamlFiles[0]", "'values-prod.yaml'", "move its settings into `values`"],
        id="istiod-values-file-asset",
    ),
    pytest.param(
        RELEASE,
        release(valueYamlFiles=[remote_asset("https://example.com/values.yaml")]),
        LEGACY_POLICY,
        ["valueYamlFiles[0]", "RemoteAsset"],
        id="istiod-values-remote-asset",
    ),
    pytest.param(
        RELEASE,
        release(valueYamlFiles=[string_asset("pilot:\n  traceSampling: 100\n")]),
        LEGACY_POLICY,
        ["valueYamlFiles[0]: pilot.traceSampling = 100"],
        id="istiod-values-string-asset",
    ),
    pytest.param(
        RELEASE,
        release(valueYamlFiles=[string_asset("profile: demo\n")]),
        LEGACY_POLICY,
        ["valueYamlFiles[0]: profile"],
        id="istiod-values-string-asset-profile",
    ),
    pytest.param(
        RELEASE,
        release(postrender="./rewrite.sh"),
        LEGACY_POLICY,
        ["postrender", "post-renderer"],
        id="istiod-post-renderer",
    ),
    # --- the chart by path or URL: whatever its name, judged as Istio's -----------------------
    pytest.param(
        RELEASE,
        release("./istio/manifests/charts/istio-control/istio-discovery", {"profile": "demo"}),
        LEGACY_POLICY,
        ["values.profile"],
        id="chart-by-source-tree-path",
    ),
    pytest.param(
        RELEASE,
        release("https://example.com/download/istiod-1.31.1.tgz?raw=true", {"profile": "demo"}),
        LEGACY_POLICY,
        ["values.profile"],
        id="chart-by-url",
    ),
    pytest.param(
        CHART_V4,
        release("oci://ghcr.io/example/charts/control-plane:1.31.1", {"traceSampling": 100}),
        LEGACY_POLICY,
        ["values.traceSampling = 100"],
        id="chart-by-oci-reference-renamed",
    ),
    pytest.param(
        RELEASE,
        release("/vendor/charts/cp", valueYamlFiles=[file_asset("/vendor/cp-values.yaml")]),
        LEGACY_POLICY,
        ["valueYamlFiles[0]"],
        id="chart-by-path-with-values-file",
    ),
    pytest.param(
        RELEASE,
        release("/vendor/charts/prometheus", {"global": {"profile": "demo"}}),
        LEGACY_POLICY,
        ["values.global.profile"],
        id="chart-by-path-under-another-charts-name",
    ),
    pytest.param(
        RELEASE,
        release("my-istiod-wrapper", {"istiod": {"traceSampling": 90}}),
        LEGACY_POLICY,
        ["values.istiod.traceSampling = 90"],
        id="wrapper-chart-subchart-values",
    ),
    pytest.param(
        RELEASE,
        release("my-istiod-wrapper", {"istiod": {"global": {"profile": "demo"}}}),
        LEGACY_POLICY,
        ["values.istiod.global.profile"],
        id="wrapper-chart-subchart-profile",
    ),
    pytest.param(
        RELEASE,
        release(
            "prometheus",
            {"server": {"podAnnotations": {"proxy.istio.io/config": PROXY_CONFIG_100}}},
        ),
        LEGACY_POLICY,
        ['values.server.podAnnotations["proxy.istio.io/config"]: tracing.sampling = 100'],
        id="any-chart-pod-annotation",
    ),
    pytest.param(
        RELEASE,
        release("prometheus", valueYamlFiles=[file_asset("prometheus-values.yaml")]),
        LEGACY_POLICY,
        ["valueYamlFiles[0]"],
        id="any-chart-values-file",
    ),
    # --- IstioOperator ------------------------------------------------------------------------
    pytest.param(
        OPERATOR,
        operator({"profile": "demo"}),
        LEGACY_POLICY,
        ["spec.profile", "'demo'"],
        id="operator-profile-demo",
    ),
    pytest.param(
        OPERATOR,
        operator({"profile": "/tmp/my-profile.yaml"}),
        LEGACY_POLICY,
        ["spec.profile"],
        id="operator-profile-file",
    ),
    pytest.param(
        OPERATOR,
        operator({"compatibilityVersion": "2.0", "values": {"global": {"platform": "x"}}}),
        LEGACY_POLICY,
        ["spec.compatibilityVersion", "spec.values.global.platform"],
        id="operator-compatibility-version-and-platform",
    ),
    pytest.param(
        OPERATOR,
        operator({"values": {"profile": "demo"}}),
        LEGACY_POLICY,
        ["spec.values.profile"],
        id="operator-values-profile-demo",
    ),
    pytest.param(
        OPERATOR,
        operator({"values": {"pilot": {"traceSampling": 7}}}),
        LEGACY_POLICY,
        ["spec.values.pilot.traceSampling = 7"],
        id="operator-values-trace-sampling",
    ),
    pytest.param(
        OPERATOR,
        operator({"values": {"pilot": {"env": {"PILOT_TRACE_SAMPLING": "60"}}}}),
        LEGACY_POLICY,
        ["spec.values.pilot.env.PILOT_TRACE_SAMPLING = 60"],
        id="operator-values-pilot-env",
    ),
    pytest.param(
        OPERATOR,
        operator(
            {
                "components": {
                    "pilot": {"k8s": {"env": [{"name": "PILOT_TRACE_SAMPLING", "value": "100"}]}}
                }
            }
        ),
        LEGACY_POLICY,
        ["spec.components.pilot.k8s.env[0].value = 100"],
        id="operator-component-env",
    ),
    pytest.param(
        OPERATOR,
        operator({"meshConfig": {"defaultConfig": {"tracing": {"sampling": 100}}}}),
        LEGACY_POLICY,
        ["spec.meshConfig.defaultConfig.tracing.sampling = 100"],
        id="operator-mesh-config",
    ),
    pytest.param(
        OPERATOR,
        operator(
            {
                "components": {
                    "ingressGateways": [
                        {
                            "name": "istio-ingressgateway",
                            "k8s": {"podAnnotations": {"proxy.istio.io/config": PROXY_CONFIG_100}},
                        }
                    ]
                }
            }
        ),
        LEGACY_POLICY,
        ["podAnnotations", "tracing.sampling = 100"],
        id="operator-gateway-pod-annotation",
    ),
    # --- mesh config text Istio reads and PyYAML's safe_load does not --------------------------
    pytest.param(
        CONFIG_MAP,
        mesh_map("defaultConfig:\n  tracing:\n    sampling: 1\n---\n" + MESH_100),
        LEGACY_POLICY,
        ["data.mesh: (document 2) defaultConfig.tracing.sampling = 100"],
        id="mesh-second-document",
    ),
    pytest.param(
        CONFIG_MAP,
        mesh_map("defaultConfig:\n  tracing:\n    sampling: !pct 100\n"),
        LEGACY_POLICY,
        ["data.mesh: defaultConfig.tracing.sampling = 100"],
        id="mesh-custom-tag",
    ),
    pytest.param(
        CONFIG_MAP,
        mesh_map("defaultConfig:\n  tracing:\n    sampling: 1\n    sampling: 100\n"),
        LEGACY_POLICY,
        ["defaultConfig.tracing.sampling = 100"],
        id="mesh-duplicate-key",
    ),
    pytest.param(
        CONFIG_MAP,
        mesh_map(
            '{"defaultConfig": {"tracing": {"sampling": 100}},'
            ' "defaultConfig": {"tracing": {"sampling": 1}}}'
        ),
        LEGACY_POLICY,
        ["data.mesh: defaultConfig.tracing.sampling = 100"],
        id="mesh-json-duplicate-key",
    ),
    pytest.param(
        ENVOY_FILTER,
        envoy_filter(hcm(tracing={"random_sampling": 1, "overall_sampling": {"value": 50}})),
        LEGACY_POLICY,
        ["tracing.overall_sampling = 50"],
        id="envoy-filter-overall-sampling",
    ),
    pytest.param(
        CONFIG_MAP,
        mesh_map("base: &base\n  tracing:\n    sampling: 100\ndefaultConfig:\n  <<: *base\n"),
        LEGACY_POLICY,
        ["tracing.sampling = 100"],
        id="mesh-anchor-and-merge-key",
    ),
    pytest.param(
        CONFIG_MAP,
        mesh_map("default_config:\n  tracing:\n    sampling: 0x64\n"),
        LEGACY_POLICY,
        ["data.mesh: default_config.tracing.sampling = 0x64"],
        id="mesh-proto-field-names-and-hex",
    ),
    pytest.param(
        CONFIG_MAP,
        mesh_map('{\n\t"defaultConfig": {"tracing": {"sampling": 100}}\n}'),
        LEGACY_POLICY,
        ["data.mesh: defaultConfig.tracing.sampling = 100"],
        id="mesh-json-with-tabs",
    ),
    pytest.param(
        CONFIG_MAP,
        mesh_map("defaultConfig: {{ .Values.proxy }}\n  tracing: [\n"),
        LEGACY_POLICY,
        ["data.mesh", "not YAML or JSON the pack can read"],
        id="mesh-unparseable",
    ),
    pytest.param(
        CONFIG_MAP,
        mesh_map(MESH_100, name="istio-user"),
        LEGACY_POLICY,
        ["data.mesh: defaultConfig.tracing.sampling = 100"],
        id="shared-mesh-config-map",
    ),
    pytest.param(
        CONFIG_MAP,
        mesh_map(
            "extensionProviders:\n- name: dt\n  opentelemetry:\n    service: otel.svc\n"
            "    port: 4317\n    dynatraceSampler:\n      tenant: t\n      clusterId: 1\n"
        ),
        LEGACY_POLICY,
        ["extensionProviders[0].opentelemetry.dynatraceSampler", "sample 100 %"],
        id="provider-with-its-own-sampler",
    ),
    pytest.param(
        CONFIG_MAP,
        {
            "kind": "ConfigMap",
            "metadata": {"name": "istio-sidecar-injector"},
            "data": {
                "config": "policy: enabled\ntemplates:\n  sidecar: |\n"
                "    {{- $proxy := .ProxyConfig }}\n    env:\n    - name: PROXY_CONFIG\n"
                "      value: '{{ protoToJSON $proxy }}'\n"
            },
        },
        LEGACY_POLICY,
        ["data.config", "not YAML or JSON the pack can read"],
        id="injector-template-text",
    ),
    pytest.param(
        "kubernetes:core/v1:Secret",
        {"kind": "Secret", "stringData": {"PILOT_TRACE_SAMPLING": "100"}},
        LEGACY_POLICY,
        ["stringData.PILOT_TRACE_SAMPLING = 100"],
        id="env-from-secret-string-data",
    ),
    pytest.param(
        "kubernetes:core/v1:Secret",
        {"kind": "Secret", "data": {"PILOT_TRACE_SAMPLING": "MTAw"}},
        LEGACY_POLICY,
        ["data.PILOT_TRACE_SAMPLING = 100"],
        id="env-from-secret-data",
    ),
    # --- per workload: the ProxyConfig annotation, the sidecar's PROXY_CONFIG ------------------
    pytest.param(
        DEPLOYMENT,
        workload({"proxy.istio.io/config": PROXY_CONFIG_100}),
        LEGACY_POLICY,
        [
            'spec.template.metadata.annotations["proxy.istio.io/config"]: tracing.sampling = 100',
        ],
        id="pod-annotation-yaml",
    ),
    pytest.param(
        "kubernetes:batch/v1:CronJob",
        workload({"proxy.istio.io/config": json.dumps({"tracing": {"sampling": 50}})}, kind="Job"),
        LEGACY_POLICY,
        ["tracing.sampling = 50"],
        id="pod-annotation-json",
    ),
    pytest.param(
        DEPLOYMENT,
        workload({"proxy.istio.io/config": "tracing: [unclosed"}),
        LEGACY_POLICY,
        ['annotations["proxy.istio.io/config"]', "not YAML or JSON"],
        id="pod-annotation-unparseable",
    ),
    pytest.param(
        DEPLOYMENT,
        workload(env=[{"name": "PROXY_CONFIG", "value": '{"tracing": {"sampling": 100}}'}]),
        LEGACY_POLICY,
        ["env[0].value: tracing.sampling = 100"],
        id="sidecar-proxy-config-env",
    ),
    pytest.param(
        DEPLOYMENT,
        workload(
            {
                "proxy.istio.io/overrides": json.dumps(
                    {
                        "containers": [
                            {
                                "name": "istio-proxy",
                                "env": [{"name": "PROXY_CONFIG", "value": PROXY_CONFIG_100}],
                            }
                        ]
                    }
                )
            }
        ),
        LEGACY_POLICY,
        ["proxy.istio.io/overrides", "tracing.sampling = 100"],
        id="proxy-overrides-annotation",
    ),
    pytest.param(
        "kubernetes:networking.istio.io/v1beta1:ProxyConfig",
        {
            "kind": "ProxyConfig",
            "spec": {"environmentVariables": {"PROXY_CONFIG": PROXY_CONFIG_100}},
        },
        LEGACY_POLICY,
        ["spec.environmentVariables.PROXY_CONFIG: tracing.sampling = 100"],
        id="proxy-config-resource-env",
    ),
    # --- EnvoyFilter: Envoy's own sampling ----------------------------------------------------
    pytest.param(
        ENVOY_FILTER,
        envoy_filter(hcm(tracing={"random_sampling": {"value": 100}})),
        LEGACY_POLICY,
        ["typed_config.tracing.random_sampling = 100"],
        id="envoy-filter-random-sampling",
    ),
    pytest.param(
        ENVOY_FILTER,
        envoy_filter(hcm(tracing={"provider": {"name": "envoy.tracers.opentelemetry"}}), "REPLACE"),
        LEGACY_POLICY,
        ["typed_config.tracing", "Envoy's default of 100 %"],
        id="envoy-filter-tracing-without-random-sampling",
    ),
    pytest.param(
        ENVOY_FILTER,
        envoy_filter(
            hcm(
                tracing={
                    "random_sampling": {"value": 1},
                    "provider": {
                        "typed_config": {
                            "sampler": {"name": "envoy.tracers.opentelemetry.samplers.always_on"}
                        }
                    },
                }
            )
        ),
        LEGACY_POLICY,
        ["typed_config.sampler", "sampler"],
        id="envoy-filter-sampler",
    ),
    pytest.param(
        ENVOY_FILTER,
        envoy_filter(
            hcm(
                early_header_mutation_extensions=[
                    {
                        "typed_config": {
                            "mutations": [
                                {"append": {"header": {"key": "x-client-trace-id", "value": "1"}}}
                            ]
                        }
                    }
                ]
            )
        ),
        LEGACY_POLICY,
        ["append.header.key", "adds or sets the x-client-trace-id header"],
        id="envoy-filter-adds-a-forcing-header",
    ),
    pytest.param(
        ENVOY_FILTER,
        envoy_filter(
            {
                "name": "envoy.filters.http.lua",
                "typed_config": {
                    "inline_code": "function envoy_on_request(h)\n"
                    '  h:headers():add("x-envoy-force-trace", "true")\nend'
                },
            }
        ),
        LEGACY_POLICY,
        ["inline_code", "x-envoy-force-trace"],
        id="envoy-filter-lua-forces-traces",
    ),
    # --- components that render objects: judged by what their inputs carry, too ---------------
    pytest.param(
        "kubernetes:yaml/v2:ConfigGroup",
        {
            "yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n---\n"
            "apiVersion: telemetry.istio.io/v1\nkind: Telemetry\nmetadata: {name: mesh}\n"
            "spec:\n  tracing:\n  - randomSamplingPercentage: 100\n"
        },
        LEGACY_POLICY,
        ["yaml: (document 2) spec.tracing[0].randomSamplingPercentage = 100"],
        id="config-group-yaml-text",
    ),
    pytest.param(
        "kubernetes:yaml/v2:ConfigGroup",
        {"objs": [mesh_map(MESH_100)]},
        LEGACY_POLICY,
        ["objs[0].data.mesh: defaultConfig.tracing.sampling = 100"],
        id="config-group-objects",
    ),
]


@pytest.mark.parametrize(("resource_type", "props", "policy", "fragments"), ATTACKS)
def test_attack_is_refused_in_production(
    preview_pack, resource_type: str, props: dict, policy: str, fragments: list[str]
) -> None:
    diagnostics = preview_pack.analyze(resource_type, "attack", props)
    refused = [d for d in diagnostics if d.policyName == policy]
    assert refused, [d.message for d in diagnostics]
    assert {d.enforcementLevel for d in diagnostics} == {MANDATORY}
    assert all(d.policyName in SAMPLING_POLICIES for d in diagnostics)
    text = "\n".join(d.message for d in refused)
    assert "'attack'" in text
    for fragment in fragments:
        assert fragment in text, text


@pytest.mark.parametrize(("resource_type", "props", "policy", "fragments"), ATTACKS)
def test_attack_is_refused_at_update_too(
    update_pack, resource_type: str, props: dict, policy: str, fragments: list[str]
) -> None:
    assert any(d.policyName == policy for d in update_pack.analyze(resource_type, "attack", props))


@pytest.mark.parametrize(("resource_type", "props", "policy", "fragments"), ATTACKS)
def test_attack_is_not_judged_outside_production(
    resource_type: str, props: dict, policy: str, fragments: list[str], staging_pack
) -> None:
    assert staging_pack.analyze(resource_type, "attack", props) == []


@pytest.fixture(scope="module")
def staging_pack():
    with running_pack("staging", {f"{NS}environment": "staging"}) as analyzer:
        yield analyzer


# --- what counts as production, and config that would loosen the cap ----------------------


@pytest.mark.parametrize("stack", ["PROD", "Prod-EU", "PRODUCTION", "production-us", "prod"])
def test_production_names_in_any_letter_case(stack: str) -> None:
    with running_pack(stack, {}) as analyzer:
        (diagnostic,) = analyzer.analyze(TELEMETRY, "mesh", telemetry(rule(100)))
        assert diagnostic.policyName == TELEMETRY_POLICY
        assert diagnostic.enforcementLevel == MANDATORY


def test_an_environment_named_like_production_counts() -> None:
    with running_pack("eu-main", {f"{NS}environment": "Production"}) as analyzer:
        assert analyzer.analyze(TELEMETRY, "mesh", telemetry(rule(100)))


@pytest.mark.parametrize("stack", ["preprod", "product-catalog", "staging", "dev", "reprod"])
def test_names_that_are_not_production(stack: str) -> None:
    with running_pack(stack, {}) as analyzer:
        assert analyzer.analyze(TELEMETRY, "mesh", telemetry(rule(100))) == []


def test_config_cannot_raise_the_cap() -> None:
    with running_pack("prod", {}) as analyzer:
        analyzer.configure(
            {
                TELEMETRY_POLICY: {"maxSamplingPercent": 100},
                LEGACY_POLICY: {"maxSamplingPercent": 50},
            }
        )
        (diagnostic,) = analyzer.analyze(TELEMETRY, "mesh", telemetry(rule(100)))
        assert "cap of 5 percent" in diagnostic.message
        (diagnostic,) = analyzer.analyze(RELEASE, "istiod", release(values={"traceSampling": 6}))
        assert "values.traceSampling = 6 is above the production cap of 5 percent" in (
            diagnostic.message
        )
        assert analyzer.analyze(TELEMETRY, "mesh", telemetry(rule(5))) == []


def test_config_may_lower_the_cap() -> None:
    with running_pack("prod", {}) as analyzer:
        analyzer.configure({TELEMETRY_POLICY: {"maxSamplingPercent": 0.5}})
        (diagnostic,) = analyzer.analyze(TELEMETRY, "mesh", telemetry(rule(1)))
        assert "cap of 0.5 percent" in diagnostic.message


def test_config_patterns_add_to_production_never_remove() -> None:
    with running_pack("prod", {}) as analyzer:
        analyzer.configure({TELEMETRY_POLICY: {"productionStackPatterns": ["live-*"]}})
        assert analyzer.analyze(TELEMETRY, "mesh", telemetry(rule(100)))


def test_the_schema_says_the_cap_only_goes_down(preview_pack) -> None:
    for policy in preview_pack.info().policies:
        if policy.name in SAMPLING_POLICIES:
            assert policy.configSchema.properties["maxSamplingPercent"]["maximum"] == 5


# --- unknown values: advisory at preview where the update judges them; mandatory at update -----


UNKNOWNS = [
    pytest.param(TELEMETRY, telemetry(rule(UNKNOWN_NUMBER)), TELEMETRY_POLICY, id="telemetry"),
    pytest.param(
        RELEASE, release(values={"traceSampling": UNKNOWN_NUMBER}), LEGACY_POLICY, id="value"
    ),
    pytest.param(RELEASE, release(values=UNKNOWN_OBJECT), LEGACY_POLICY, id="all-values"),
    pytest.param(RELEASE, release(values={"profile": UNKNOWN_STRING}), LEGACY_POLICY, id="profile"),
    pytest.param(CONFIG_MAP, mesh_map(UNKNOWN_STRING), LEGACY_POLICY, id="mesh-text"),
    pytest.param(
        DEPLOYMENT,
        workload({"proxy.istio.io/config": UNKNOWN_STRING}),
        LEGACY_POLICY,
        id="annotation",
    ),
    pytest.param(DEPLOYMENT, workload(env=UNKNOWN_ARRAY), LEGACY_POLICY, id="env-list"),
]


@pytest.mark.parametrize(("resource_type", "props", "policy"), UNKNOWNS)
def test_unknown_at_preview_is_advisory(
    preview_pack, resource_type: str, props: dict, policy: str
) -> None:
    (diagnostic,) = preview_pack.analyze(resource_type, "late", props)
    assert diagnostic.policyName == UNKNOWN_POLICY
    assert diagnostic.enforcementLevel == ADVISORY
    assert "is unknown, and could set Istio's trace sampling during preview" in diagnostic.message
    assert "the update judges the real value" in diagnostic.message


@pytest.mark.parametrize(("resource_type", "props", "policy"), UNKNOWNS)
def test_unknown_at_update_is_mandatory(
    update_pack, resource_type: str, props: dict, policy: str
) -> None:
    (diagnostic,) = update_pack.analyze(resource_type, "late", props)
    assert diagnostic.policyName == policy
    assert diagnostic.enforcementLevel == MANDATORY
    assert "is unknown, and could set Istio's trace sampling at update" in diagnostic.message
    assert "cannot prove it is at most 5 percent" in diagnostic.message


def test_a_known_violation_is_not_hidden_by_an_unknown_value(preview_pack) -> None:
    props = telemetry(rule(UNKNOWN_NUMBER), rule(100))
    levels = {d.policyName: d.enforcementLevel for d in preview_pack.analyze(TELEMETRY, "m", props)}
    assert levels == {TELEMETRY_POLICY: MANDATORY, UNKNOWN_POLICY: ADVISORY}


def test_unknown_values_that_cannot_set_sampling_are_no_finding(preview_pack) -> None:
    service = {"kind": "Service", "spec": {"ports": UNKNOWN_OBJECT, "clusterIP": UNKNOWN_STRING}}
    assert preview_pack.analyze("kubernetes:core/v1:Service", "svc", service) == []
    labelled = telemetry(rule(1))
    labelled["metadata"]["labels"] = {"team": UNKNOWN_STRING}
    assert preview_pack.analyze(TELEMETRY, "mesh", labelled) == []


# --- the other side: what must pass in production -----------------------------------------

ACCEPTED = [
    pytest.param(TELEMETRY, telemetry(rule(5), rule(0.1), rule("1")), id="telemetry-at-or-below"),
    pytest.param(
        "kubernetes:telemetry.istio.io/v1:TelemetryPatch", telemetry(rule(1)), id="telemetry-patch"
    ),
    pytest.param(TELEMETRY, {"kind": "Telemetry", "spec": {"metrics": []}}, id="metrics-only"),
    pytest.param(
        RELEASE,
        release(
            values={
                "traceSampling": 1.0,
                "pilot": {"traceSampling": 5, "env": {"PILOT_ENABLE_STATUS": "true"}},
                "env": {"PILOT_TRACE_SAMPLING": "0.5"},
                "meshConfig": {"defaultConfig": {"tracing": {"sampling": 5}}},
            }
        ),
        id="istiod-within-cap",
    ),
    *(
        pytest.param(RELEASE, release(values=values), id=f"istiod-{next(iter(values))}-{label}")
        for label, values in [
            ("ambient", {"profile": "ambient"}),
            ("stable", {"global": {"profile": "stable"}}),
            ("gke", {"platform": "gke"}),
            ("compat", {"compatibilityVersion": "1.29"}),
            ("empty", {"profile": ""}),
        ]
    ),
    pytest.param(
        RELEASE,
        release(valueYamlFiles=[string_asset("traceSampling: 1\nprofile: stable\n")]),
        id="istiod-string-asset-within-cap",
    ),
    pytest.param(
        RELEASE,
        release("/charts/istiod", {"meshConfig": {"enableTracing": True}}),
        id="istiod-by-local-path",
    ),
    pytest.param(
        RELEASE,
        release("oci://registry.example.com/charts/istiod", {"traceSampling": 1}),
        id="istiod-by-oci",
    ),
    pytest.param(
        RELEASE,
        release("kiali-server", {"deployment": {"profile": "x"}, "auth": {"strategy": "token"}}),
        id="non-istio-chart-own-profile-key",
    ),
    pytest.param(
        OPERATOR,
        operator(
            {
                "profile": "minimal",
                "meshConfig": {"defaultConfig": {"tracing": {"sampling": 1}}},
                "values": {"pilot": {"traceSampling": 1}},
            }
        ),
        id="operator-within-cap",
    ),
    pytest.param(
        RELEASE,
        release("dynatrace-operator", {"platform": "kubernetes", "profile": "full"}),
        id="non-istio-chart-by-name-with-its-own-platform",
    ),
    pytest.param(
        CONFIG_MAP,
        {
            "kind": "ConfigMap",
            "data": {
                "application.yaml": "management:\n  tracing:\n    sampling:\n"
                "      probability: 1.0\n",
                "collector.yaml": "processors:\n  probabilistic_sampler:\n"
                "    sampling_percentage: 50\n",
            },
        },
        id="applications-own-tracing-config",
    ),
    pytest.param(CONFIG_MAP, mesh_map("defaultConfig:\n  tracing:\n    sampling: 5\n"), id="mesh"),
    pytest.param(
        CONFIG_MAP,
        mesh_map("defaultConfig:\n  tracing:\n    sampling: 1\n---\nenableTracing: true\n"),
        id="mesh-two-documents-within-cap",
    ),
    pytest.param(
        CONFIG_MAP,
        {"kind": "ConfigMap", "data": {"nginx.conf": "server { listen 80; }", "a": "sampling"}},
        id="unrelated-text",
    ),
    pytest.param(
        DEPLOYMENT,
        workload(
            {
                "proxy.istio.io/config": "tracing:\n  sampling: 1\n"
                "holdApplicationUntilProxyStarts: true"
            },
            env=[{"name": "PROXY_CONFIG", "value": "{}"}, {"name": "LOG", "value": "sampling"}],
        ),
        id="workload-within-cap",
    ),
    pytest.param(
        ENVOY_FILTER,
        envoy_filter(
            hcm(
                tracing={"random_sampling": {"value": 1}, "overall_sampling": 5},
                early_header_mutation_extensions=[
                    {"typed_config": {"mutations": [{"remove": "x-client-trace-id"}]}}
                ],
            )
        ),
        id="envoy-filter-within-cap-and-removing-headers",
    ),
    pytest.param(
        ENVOY_FILTER,
        envoy_filter(
            hcm(
                access_log=[
                    {
                        "typed_config": {
                            "log_format": {"text_format": "%REQ(X-REQUEST-ID)% %REQ(TRACEPARENT)%"}
                        }
                    }
                ],
                tracing={
                    "random_sampling": 1,
                    "custom_tags": [{"tag": "rid", "request_header": {"name": "x-request-id"}}],
                },
            )
        ),
        id="envoy-filter-reading-trace-headers",
    ),
    pytest.param(
        ENVOY_FILTER,
        envoy_filter(
            {
                "name": "envoy.filters.http.lua",
                "typed_config": {
                    "inline_code": "function envoy_on_request(h)\n"
                    '  local id = h:headers():get("x-request-id")\n'
                    '  h:headers():add("x-shop-request", id)\nend'
                },
            }
        ),
        id="envoy-filter-lua-reading-a-trace-header",
    ),
    pytest.param(
        "kubernetes:core/v1:Secret",
        {"kind": "Secret", "stringData": {"password": UNKNOWN_STRING, "note": "no sampling"}},
        id="secret-unknown-at-preview",
    ),
    # What a Helm v4 Chart of istiod registers as children: Istio's own injection template sets
    # PROXY_CONFIG from the ProxyConfig Istio computed (judged where it is set), and its
    # admission policy names a Telemetry field in a CEL expression.
    pytest.param(
        CONFIG_MAP,
        {
            "kind": "ConfigMap",
            "metadata": {"name": "istio-sidecar-injector", "namespace": "istio-system"},
            "data": {
                "values": json.dumps({"global": {"proxy": {"image": "proxyv2"}}}),
                "config": "defaultTemplates: [sidecar]\npolicy: enabled\ntemplates:\n"
                "  sidecar: |\n    spec:\n      containers:\n      - name: istio-proxy\n"
                "        env:\n        - name: PROXY_CONFIG\n          value: |\n"
                "                 {{ protoToJSON .ProxyConfig }}\n"
                "        {{- if .Values.global.proxy.lifecycle }}\n        lifecycle:\n"
                "        {{- end }}\n",
            },
        },
        id="upstream-injector-templates",
    ),
    pytest.param(
        "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicy",
        {
            "kind": "ValidatingAdmissionPolicy",
            "spec": {
                "validations": [
                    {
                        "expression": "!(\n  variables.isTelemetry && (\n    (has(object.spec."
                        "tracing) ? object.spec.tracing : {}).exists(t, has(t."
                        "useRequestIdForTraceSampling))\n  )\n)\n"
                    }
                ]
            },
        },
        id="upstream-admission-policy",
    ),
]


@pytest.mark.parametrize(("resource_type", "props"), ACCEPTED)
def test_legitimate_production_settings_pass(
    preview_pack, update_pack, resource_type: str, props: dict
) -> None:
    assert preview_pack.analyze(resource_type, "ok", props) == []
    if UNKNOWN_STRING not in json.dumps(props):
        assert update_pack.analyze(resource_type, "ok", props) == []
