"""What a stack really puts in the cluster: its own objects from the plan, plus each Helm release
rendered by the real Helm CLI (`helm template`, the toolchain's) from the prepared chart with
our values. And the links between those objects that must hold for anything to work."""

from __future__ import annotations

import copy
import functools
import json
import subprocess
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional
from urllib.parse import urlparse

import yaml

from mesh_tracing.plan.evaluate import StackEvaluation, evaluate

from . import stack_config
from .e2e import e2e_config_changes

NS = "mesh-tracing:"
KUBE_VERSION = "v1.36.1"
"""The local control plane's version (scripts/toolchain's Kubernetes pin): charts gate on it."""
RELEASE = "kubernetes:helm.sh/v3:Release"


def e2e_plan(stack: str, charts_dir: Path, overrides: int = 0) -> StackEvaluation:
    """The stack's plan configured as the e2e suite configures it (support.e2e's
    e2e_config_changes), with `overrides` namespace overrides added."""
    config = stack_config(stack)
    secret_keys = []
    for change in e2e_config_changes(stack, charts_dir):
        section, *inner = change.path.split(".")
        node = config.setdefault(f"{NS}{section}", {})
        for key in inner[:-1]:
            node = node.setdefault(key, {})
        if change.value is None:
            node.pop(inner[-1], None)
        else:
            node[inner[-1]] = change.value
        if change.secret:
            secret_keys.append(f"{NS}{section}")
    if overrides:
        tracing = copy.deepcopy(config[f"{NS}tracing"])
        tracing.setdefault("namespaces", {}).update(override_namespaces(overrides))
        config[f"{NS}tracing"] = tracing
    return evaluate(stack, config, secret_keys)


def override_namespaces(count: int) -> dict[str, float]:
    return {f"team-{index:04d}": 1 for index in range(count)}


def plain_objects(evaluation: StackEvaluation) -> list[dict[str, Any]]:
    """The stack's own Kubernetes objects (not components, not Helm releases)."""
    return [
        copy.deepcopy(dict(r.inputs))
        for r in evaluation.resources
        if not r.type.startswith("mesh-tracing:") and r.type != RELEASE
    ]


def releases(evaluation: StackEvaluation) -> list[dict[str, Any]]:
    return [dict(r.inputs) for r in evaluation.of_type(RELEASE)]


def chart_path(release: Mapping[str, Any], charts_dir: Path) -> Path:
    chart = Path(release["chart"])
    return chart if chart.is_absolute() else charts_dir / release["chart"]


def render_release(
    helm: Path, release: Mapping[str, Any], charts_dir: Path, work: Path
) -> list[dict[str, Any]]:
    values = work / f"{release['name']}-values.json"
    values.write_text(json.dumps(release["values"]))
    result = subprocess.run(
        [
            str(helm),
            "template",
            release["name"],
            str(chart_path(release, charts_dir)),
            "--namespace",
            release["namespace"],
            "--values",
            str(values),
            "--kube-version",
            KUBE_VERSION,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={"HELM_CACHE_HOME": str(work / "helm-cache"), "PATH": "/usr/bin:/bin"},
    )
    if result.returncode != 0:
        raise AssertionError(f"helm template {release['name']}: {result.stderr}")
    objects = [o for o in yaml.safe_load_all(result.stdout) if o]
    for manifest in objects:
        # helm install puts namespaced objects without one in the release's namespace.
        manifest.setdefault("metadata", {}).setdefault("namespace", release["namespace"])
    return objects


@functools.cache
def rendered_stack(
    stack: str, helm: Path, charts_dir: Path
) -> tuple[tuple[dict[str, Any], ...], dict[str, Any]]:
    """What the stack configured as the e2e suite configures it really makes, and its outputs;
    once per stack for all the tests that read it, so never mutate it."""
    evaluation = e2e_plan(stack, charts_dir)
    with tempfile.TemporaryDirectory() as work:
        objects = rendered_objects(evaluation, helm, charts_dir, Path(work))
    return tuple(objects), evaluation.outputs


def config_document(
    objects: Iterable[Mapping[str, Any]], namespace: str, name: str
) -> dict[str, Any]:
    """The one YAML document a ConfigMap holds (Kiali's `config.yaml`, Jaeger's user-config)."""
    configmap = find(objects, "ConfigMap", namespace, name)
    assert configmap is not None, f"no ConfigMap {namespace}/{name}"
    (document,) = configmap["data"].values()
    return yaml.safe_load(document)


def rendered_objects(
    evaluation: StackEvaluation, helm: Path, charts_dir: Path, work: Path
) -> list[dict[str, Any]]:
    objects = plain_objects(evaluation)
    for release in releases(evaluation):
        objects += render_release(helm, release, charts_dir, work)
    return objects


# ---------------------------------------------------------------------------------------------
# Links
# ---------------------------------------------------------------------------------------------

WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}


@dataclass(frozen=True)
class Workload:
    namespace: str
    name: str
    labels: Mapping[str, str]
    pod: Mapping[str, Any]

    def container_ports(self) -> Iterator[Mapping[str, Any]]:
        for container in self.pod.get("containers") or []:
            yield from container.get("ports") or []

    def listens_on(self, port: Any) -> bool:
        key = "name" if isinstance(port, str) else "containerPort"
        return any(p.get(key) == port for p in self.container_ports())


def workloads(objects: Iterable[Mapping[str, Any]]) -> list[Workload]:
    found = []
    for o in objects:
        if o.get("kind") in WORKLOAD_KINDS:
            template = o["spec"]["template"]
            found.append(
                Workload(
                    o["metadata"]["namespace"],
                    o["metadata"]["name"],
                    template.get("metadata", {}).get("labels") or {},
                    template["spec"],
                )
            )
    return found


def matches(selector: Optional[Mapping[str, Any]], labels: Mapping[str, str]) -> bool:
    """A label selector (matchLabels and matchExpressions, or a Service's plain map)."""
    if selector is None:
        return True
    plain = {k: v for k, v in selector.items() if k not in ("matchLabels", "matchExpressions")}
    wanted = {**plain, **(selector.get("matchLabels") or {})}
    if any(labels.get(k) != v for k, v in wanted.items()):
        return False
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression["key"], expression["operator"], expression.get("values")
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and labels.get(key) in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True


def of_kind(objects: Iterable[Mapping[str, Any]], kind: str) -> list[Mapping[str, Any]]:
    return [o for o in objects if o.get("kind") == kind]


def find(
    objects: Iterable[Mapping[str, Any]], kind: str, namespace: str, name: str
) -> Optional[Mapping[str, Any]]:
    for o in of_kind(objects, kind):
        if o["metadata"]["name"] == name and o["metadata"].get("namespace") == namespace:
            return o
    return None


def secret_keys(secret: Mapping[str, Any]) -> set[str]:
    return set(secret.get("data") or {}) | set(secret.get("stringData") or {})


def service_links(objects: list[dict[str, Any]]) -> list[str]:
    """Every Service with a selector selects pods, and each of its target ports is one those
    pods declare."""
    problems = []
    pods = workloads(objects)
    for service in of_kind(objects, "Service"):
        meta, spec = service["metadata"], service["spec"]
        if not spec.get("selector"):
            continue
        selected = [
            w
            for w in pods
            if w.namespace == meta["namespace"] and matches(spec["selector"], w.labels)
        ]
        where = f"Service {meta['namespace']}/{meta['name']}"
        if not selected:
            problems.append(f"{where}: selector {spec['selector']} matches no pods")
            continue
        for port in spec.get("ports", []):
            target = port.get("targetPort", port["port"])
            deaf = [w.name for w in selected if not w.listens_on(target)]
            if deaf:
                problems.append(
                    f"{where}: port {port['port']} -> {target!r}: not declared by {deaf}"
                )
    return problems


def network_policy_links(objects: list[dict[str, Any]]) -> list[str]:
    """Each NetworkPolicy selects pods, admits pods that exist (in its namespace) or namespaces
    by a label they really carry, and opens ports those pods listen on."""
    problems = []
    pods = workloads(objects)
    namespace_labels = {
        o["metadata"]["name"]: o["metadata"].get("labels") or {}
        for o in of_kind(objects, "Namespace")
    }
    for policy in of_kind(objects, "NetworkPolicy"):
        meta, spec = policy["metadata"], policy["spec"]
        where = f"NetworkPolicy {meta['namespace']}/{meta['name']}"
        selected = [
            w
            for w in pods
            if w.namespace == meta["namespace"] and matches(spec["podSelector"], w.labels)
        ]
        if not selected:
            problems.append(f"{where}: podSelector {spec['podSelector']} matches no pods")
            continue
        for rule in spec.get("ingress") or []:
            for port in rule.get("ports") or []:
                if "port" in port and not all(w.listens_on(port["port"]) for w in selected):
                    problems.append(
                        f"{where}: opens {port['port']!r}, which its pods do not declare"
                    )
            for peer in rule.get("from") or []:
                same_namespace_pods = "podSelector" in peer and "namespaceSelector" not in peer
                if same_namespace_pods and not any(
                    w.namespace == meta["namespace"] and matches(peer["podSelector"], w.labels)
                    for w in pods
                ):
                    problems.append(f"{where}: admits {peer['podSelector']}, no such pods")
                if "namespaceSelector" in peer:
                    for key in peer["namespaceSelector"].get("matchLabels") or {}:
                        carried = key == "kubernetes.io/metadata.name" or any(
                            key in labels for labels in namespace_labels.values()
                        )
                        if not carried:
                            problems.append(
                                f"{where}: selects namespaces by {key!r}, a label nobody sets"
                            )
    return problems


def _missing(
    objects: list[dict[str, Any]], namespace: str, kind: str, name: str, keys: Iterable[str] = ()
) -> Optional[str]:
    found = find(objects, kind, namespace, name)
    if found is None:
        return f"uses {kind} {name}, which nothing creates"
    if kind == "Secret":
        absent = set(keys) - secret_keys(found)
    elif kind == "ConfigMap":
        absent = set(keys) - set(found.get("data") or {})
    else:
        absent = set()
    return f"uses keys {sorted(absent)} of {kind} {name}: absent" if absent else None


def _references(pod: Mapping[str, Any]) -> Iterator[tuple[str, str, list[str], bool]]:
    """(kind, name, keys, optional) of everything a pod spec uses by name."""
    for volume in pod.get("volumes") or []:
        for kind, field_name, name_key in (
            ("Secret", "secret", "secretName"),
            ("ConfigMap", "configMap", "name"),
        ):
            if field_name in volume:
                source = volume[field_name]
                keys = [item["key"] for item in source.get("items") or []]
                yield kind, source[name_key], keys, bool(source.get("optional"))
        if "persistentVolumeClaim" in volume:
            claim = volume["persistentVolumeClaim"]["claimName"]
            yield "PersistentVolumeClaim", claim, [], False
    for container in (pod.get("containers") or []) + (pod.get("initContainers") or []):
        for env in container.get("env") or []:
            ref = (env.get("valueFrom") or {}).get("secretKeyRef")
            if ref:
                yield "Secret", ref["name"], [ref["key"]], bool(ref.get("optional"))
        for source in container.get("envFrom") or []:
            if "secretRef" in source:
                ref = source["secretRef"]
                yield "Secret", ref["name"], [], bool(ref.get("optional"))
    account = pod.get("serviceAccountName")
    if account and account != "default":
        yield "ServiceAccount", account, [], False


def reference_links(objects: list[dict[str, Any]]) -> list[str]:
    """Secrets (and their keys), ConfigMaps, claims and service accounts that pods use exist."""
    problems = []
    for w in workloads(objects):
        for kind, name, keys, optional in _references(w.pod):
            problem = _missing(objects, w.namespace, kind, name, keys)
            if problem and not (optional and find(objects, kind, w.namespace, name) is None):
                problems.append(f"{w.namespace}/{w.name}: {problem}")
    return problems


def disruption_budget_links(objects: list[dict[str, Any]]) -> list[str]:
    pods = workloads(objects)
    return [
        f"PodDisruptionBudget {b['metadata']['namespace']}/{b['metadata']['name']}: selects no pods"
        for b in of_kind(objects, "PodDisruptionBudget")
        if not any(
            w.namespace == b["metadata"]["namespace"] and matches(b["spec"]["selector"], w.labels)
            for w in pods
        )
    ]


def service_at(
    objects: list[dict[str, Any]], url_or_host: str, port: Optional[int] = None
) -> list[str]:
    """`http://name.namespace.svc.cluster.local:port/...` (or a bare host with `port`) names a
    Service that serves that port and selects pods listening behind it."""
    parsed = urlparse(url_or_host if "://" in url_or_host else f"tcp://{url_or_host}")
    host, port = parsed.hostname or "", port or parsed.port
    parts = host.split(".")
    if len(parts) < 2:
        return [f"{url_or_host}: not a Service address"]
    service = find(objects, "Service", parts[1], parts[0])
    if service is None:
        return [f"{url_or_host}: no Service {parts[1]}/{parts[0]}"]
    ports = [p for p in service["spec"].get("ports", []) if p["port"] == port]
    if not ports:
        return [f"{url_or_host}: Service {parts[1]}/{parts[0]} has no port {port}"]
    return []
