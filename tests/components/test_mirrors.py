"""Charts and images from a mirror: where every release takes its chart, and every image its
registry."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pulumi
import pytest

from mesh_tracing.plan.evaluate import evaluate
from mesh_tracing.specs.charts import CHARTS, JAEGER_CHART, ChartLocation, chart_location
from mesh_tracing.specs.images import mirrored
from support import NS, helm_release, stack_config

RELEASE = "kubernetes:helm.sh/v3:Release"


def _chart_dir(path: Path, name: str, version: str) -> None:
    path.mkdir(parents=True)
    (path / "Chart.yaml").write_text(f"apiVersion: v2\nname: {name}\nversion: {version}\n")


def _chart_tgz(directory: Path, name: str, version: str) -> None:
    data = f"apiVersion: v2\nname: {name}\nversion: {version}\n".encode()
    with tarfile.open(directory / f"{name}-{version}.tgz", "w:gz") as archive:
        member = tarfile.TarInfo(f"{name}/Chart.yaml")
        member.size = len(data)
        archive.addfile(member, io.BytesIO(data))


@pytest.fixture
def chart_source(tmp_path: Path) -> Path:
    """Every chart: Jaeger as a packaged archive, the others as directories; istiod with the
    placeholder version an upstream source tree carries."""
    for pin in CHARTS:
        if pin is JAEGER_CHART:
            _chart_tgz(tmp_path, pin.chart, pin.version)
        else:
            version = "1.0.0" if pin.chart == "istiod" else pin.version
            _chart_dir(tmp_path / pin.chart, pin.chart, version)
    return tmp_path


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (None, ChartLocation("jaeger", "4.11.1", "https://jaegertracing.github.io/helm-charts")),
        (
            "https://charts.example.com/mirror/",
            ChartLocation("jaeger", "4.11.1", "https://charts.example.com/mirror"),
        ),
        (
            "oci://registry.example.com/charts",
            ChartLocation("oci://registry.example.com/charts/jaeger", "4.11.1"),
        ),
    ],
)
def test_a_remote_source_keeps_the_pinned_version(source: str | None, expected: object) -> None:
    assert chart_location(JAEGER_CHART, source) == expected


def test_a_local_source_gives_the_chart_path_and_its_own_version(chart_source: Path) -> None:
    jaeger = chart_location(JAEGER_CHART, str(chart_source))
    assert jaeger == ChartLocation(str(chart_source / "jaeger-4.11.1.tgz"), local_version="4.11.1")
    istiod = next(pin for pin in CHARTS if pin.chart == "istiod")
    assert chart_location(istiod, str(chart_source)).local_version == "1.0.0"


def test_every_release_takes_its_chart_from_the_directory(
    chart_source: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    warnings: list[str] = []
    monkeypatch.setattr(pulumi.log, "warn", lambda message, *a, **k: warnings.append(message))
    config = stack_config("dev")
    config[f"{NS}charts"] = {"source": str(chart_source)}
    releases = evaluate("dev", config).of_type(RELEASE)
    assert {release.inputs["chart"] for release in releases} == {
        str(chart_source / "jaeger-4.11.1.tgz"),
        *(str(chart_source / name) for name in ("kiali-server", "prometheus", "base", "istiod")),
    }
    for release in releases:
        assert "version" not in release.inputs and "repositoryOpts" not in release.inputs
    # Only the chart whose version differs from its pin is worth a word, naming both versions.
    assert warnings == [
        f"chart istiod: {chart_source / 'istiod'} is version 1.0.0, not the pinned 1.31.1; "
        "using it as it is"
    ]


def test_a_directory_missing_a_chart_the_stack_installs_is_refused(
    chart_source: Path,
) -> None:
    (chart_source / "kiali-server" / "Chart.yaml").unlink()
    config = stack_config("staging")
    config[f"{NS}charts"] = {"source": str(chart_source)}
    result = evaluate("staging", config, raise_errors=False)
    assert result.resources == []
    (line,) = [line for line in str(result.error).splitlines() if "charts.source" in line]
    assert line.startswith(f"  - {NS}charts.source = '{chart_source}': missing here: kiali-server")
    # Staging installs no Istio: its charts are not asked for.
    assert "istiod" not in line


@pytest.mark.parametrize(
    ("reference", "registry", "expected"),
    [
        ("quay.io/kiali/kiali", "mirror.local:5000/hub", "mirror.local:5000/hub/kiali/kiali"),
        ("jaegertracing/jaeger", "mirror.local", "mirror.local/jaegertracing/jaeger"),
        ("docker.io/istio", "mirror.local", "mirror.local/istio"),
        ("localhost/x/y", "mirror.local", "mirror.local/x/y"),
        ("quay.io/kiali/kiali", None, "quay.io/kiali/kiali"),
    ],
)
def test_a_mirror_replaces_only_the_registry(
    reference: str, registry: str | None, expected: str
) -> None:
    assert mirrored(reference, registry) == expected


def test_every_image_of_every_chart_comes_from_the_mirror() -> None:
    config = stack_config("dev")
    registry = "registry.example.com:5000/mirror"
    config[f"{NS}images"] = {"registry": registry}
    evaluation = evaluate("dev", config)
    jaeger = helm_release(evaluation, "jaeger")["values"]["jaeger"]
    kiali = helm_release(evaluation, "kiali-server")["values"]["deployment"]
    prometheus = helm_release(evaluation, "prometheus")["values"]
    istiod = helm_release(evaluation, "istiod")["values"]
    assert jaeger["image"] == {"registry": registry}
    assert kiali["image_name"] == f"{registry}/kiali/kiali"
    assert prometheus["server"]["image"]["repository"] == f"{registry}/prometheus/prometheus"
    reloader = prometheus["configmapReload"]["prometheus"]["image"]["repository"]
    assert reloader == f"{registry}/prometheus-operator/prometheus-config-reloader"
    assert istiod["hub"] == istiod["global"]["hub"] == f"{registry}/istio"


def test_without_a_mirror_no_image_key_is_set() -> None:
    evaluation = evaluate("dev", stack_config("dev"))
    assert "image" not in helm_release(evaluation, "jaeger")["values"]["jaeger"]
    assert "image_name" not in helm_release(evaluation, "kiali-server")["values"]["deployment"]
    assert "image" not in helm_release(evaluation, "prometheus")["values"]["server"]
