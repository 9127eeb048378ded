"""The offline plan command: stable plans, masked secrets, precise diffs, CI exit codes."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from mesh_tracing.plan.cli import EXIT_CHANGES, EXIT_INVALID_CONFIG, EXIT_OK, EXIT_USAGE, run
from support import PROJECT_DIR, STACKS

TELEMETRY = "kubernetes:telemetry.istio.io/v1:Telemetry"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of this project whose stack files a test may change."""
    copy = tmp_path / "project"
    copy.mkdir()
    shutil.copy(PROJECT_DIR / "Pulumi.yaml", copy)
    shutil.copy(PROJECT_DIR / "__main__.py", copy)
    shutil.copytree(PROJECT_DIR / "stacks", copy / "stacks")
    return copy


def _edit(project: Path, stack: str, key: str, value: object) -> None:
    path = project / "stacks" / f"Pulumi.{stack}.yaml"
    document = yaml.safe_load(path.read_text())
    document["config"][f"mesh-tracing:{key}"] = value
    path.write_text(yaml.safe_dump(document))


def _run(*argv: str) -> tuple[int, str, str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    code = run(list(argv), stdout=stdout, stderr=stderr)
    return code, stdout.getvalue(), stderr.getvalue()


@pytest.mark.parametrize("stack", STACKS)
def test_plan_is_stable_byte_for_byte(stack: str) -> None:
    first = _run("plan", stack, "--project-dir", str(PROJECT_DIR), "--quiet")
    second = _run("plan", stack, "--project-dir", str(PROJECT_DIR), "--quiet")
    assert first[0] == EXIT_OK
    assert first[1] == second[1]
    plan = yaml.safe_load(first[1])
    assert plan["stack"] == stack
    keys = [(r["type"], r["name"]) for r in plan["resources"]]
    assert keys == sorted(keys)
    assert all("parent" in r and "inputs" in r for r in plan["resources"])


def test_plan_is_stable_across_processes() -> None:
    def once() -> str:
        return subprocess.run(
            [
                sys.executable,
                "-c",
                "from mesh_tracing.plan.cli import main; main()",
                "plan",
                "prod",
                "--format",
                "json",
                "--quiet",
            ],
            cwd=PROJECT_DIR,
            capture_output=True,
            text=True,
            check=True,
        ).stdout

    assert once() == once()


def test_secrets_never_appear_in_a_plan(project: Path) -> None:
    _edit(
        project,
        "prod",
        "jaeger",
        {
            "storage": "elasticsearch",
            "replicas": 2,
            "elasticsearch": {
                "url": "https://es.example:9200",
                "username": "jaeger",
                "password": {"secure": "v1:c2VjcmV0:very-secret-ciphertext"},
            },
        },
    )
    code, out, err = _run("plan", "prod", "--project-dir", str(project), "--quiet")
    assert code == EXIT_OK, err
    assert "very-secret-ciphertext" not in out
    assert "encrypted-in-stack-file" not in out
    plan = yaml.safe_load(out)
    (secret,) = [r for r in plan["resources"] if r["name"] == "mesh-jaeger-storage-credentials"]
    assert secret["inputs"]["stringData"] == {"password": "[secret]", "username": "[secret]"}
    signing = next(
        r
        for r in plan["resources"]
        if r["name"] == "mesh-kiali-signing-key" and r["type"] == "kubernetes:core/v1:Secret"
    )
    assert set(signing["inputs"]["stringData"].values()) == {"[secret]"}


def test_changed_sampling_is_exactly_that_path(project: Path) -> None:
    base = project.parent / "base-plan.json"
    assert (
        _run(
            "plan", "prod", "--project-dir", str(project), "--format", "json", "-q", "-o", str(base)
        )[0]
        == EXIT_OK
    )
    tracing = yaml.safe_load((project / "stacks" / "Pulumi.prod.yaml").read_text())["config"][
        "mesh-tracing:tracing"
    ]
    _edit(project, "prod", "tracing", {**tracing, "sampling": 2})
    code, out, _ = _run(
        "plan",
        "prod",
        "--project-dir",
        str(project),
        "--against",
        str(base),
        "--format",
        "json",
        "-q",
    )
    assert code == EXIT_CHANGES
    diff = json.loads(out)
    assert diff["added"] == [] and diff["removed"] == []
    assert diff["changed"] == [
        {
            "resource": f"{TELEMETRY}::mesh-istio-telemetry-istio-system",
            "changes": [
                {"path": "inputs.spec.tracing[0].randomSamplingPercentage", "old": 1, "new": 2}
            ],
        }
    ]
    assert diff["outputs"] == [
        {"path": "sampling_percent_by_namespace.istio-system", "old": 1, "new": 2},
        {"path": "trace_start_sampling_percent.*", "old": 1, "new": 2},
    ]


def test_added_namespace_override_is_exactly_one_added_resource(project: Path) -> None:
    base = project.parent / "base-plan.yaml"
    _run("plan", "staging", "--project-dir", str(project), "-q", "-o", str(base))
    _edit(
        project, "staging", "tracing", {"sampling": 10, "namespaces": {"checkout": 25, "search": 3}}
    )
    code, out, _ = _run(
        "plan",
        "staging",
        "--project-dir",
        str(project),
        "--against",
        str(base),
        "--format",
        "json",
        "-q",
    )
    assert code == EXIT_CHANGES
    diff = json.loads(out)
    assert diff["added"] == [f"{TELEMETRY}::mesh-istio-telemetry-search"]
    assert diff["removed"] == [] and diff["changed"] == []


def test_no_change_exits_zero(project: Path) -> None:
    base = project.parent / "same.yaml"
    _run("plan", "dev", "--project-dir", str(project), "-q", "-o", str(base))
    code, out, _ = _run("plan", "dev", "--project-dir", str(project), "--against", str(base), "-q")
    assert code == EXIT_OK
    assert "No changes." in out


def test_invalid_config_exits_with_its_code_and_message(project: Path) -> None:
    _edit(project, "prod", "tracing", {"sampling": 50})
    code, out, err = _run("plan", "prod", "--project-dir", str(project), "-q")
    assert code == EXIT_INVALID_CONFIG
    assert out == ""
    assert err.startswith("stack 'prod' has invalid mesh-tracing configuration:")
    assert "mesh-tracing:tracing.sampling = 50: production stacks sample at most 5 percent" in err


def test_prod_against_dev_reads_as_a_diff() -> None:
    code, out, _ = _run("plan", "prod", "--diff", "dev", "--project-dir", str(PROJECT_DIR), "-q")
    assert code == EXIT_CHANGES
    lines = out.splitlines()
    assert lines[0].startswith("Plan diff mesh-tracing/dev -> mesh-tracing/prod:")
    assert "+ kubernetes:policy/v1:PodDisruptionBudget::mesh-jaeger-pdb" in lines
    assert "- kubernetes:helm.sh/v3:Release::mesh-istio-istiod" in lines
    assert '    inputs.values.auth.strategy: "anonymous" => "token"' in lines
    assert "    inputs.spec.tracing[0].randomSamplingPercentage: 100 => 1" in lines


def test_markdown_diff_for_pull_requests() -> None:
    code, out, _ = _run(
        "plan",
        "prod",
        "--diff",
        "staging",
        "--format",
        "markdown",
        "--project-dir",
        str(PROJECT_DIR),
        "-q",
    )
    assert code == EXIT_CHANGES
    assert out.startswith("### Plan diff `mesh-tracing/staging` → `mesh-tracing/prod`")
    assert "| path | old | new |" in out
    assert "#### Removed" in out and "#### Added" in out


def test_progress_goes_to_stderr_only() -> None:
    code, out, err = _run("plan", "dev", "--project-dir", str(PROJECT_DIR))
    assert code == EXIT_OK
    assert "evaluating stack 'dev'" in err
    assert "evaluating" not in out


@pytest.mark.parametrize(
    "argv",
    [
        ("plan",),
        ("plan", "dev", "--format", "text"),
        ("plan", "dev", "--diff", "prod", "--format", "yaml"),
        ("plan", "dev", "--diff", "prod", "--against", "x.json"),
    ],
)
def test_wrong_usage_exits_64(argv: tuple[str, ...]) -> None:
    with pytest.raises(SystemExit) as caught:
        code = _run(*argv, "--project-dir", str(PROJECT_DIR))[0]
        raise SystemExit(code)
    assert caught.value.code == EXIT_USAGE


def test_an_unknown_stack_lists_the_stacks_there_are() -> None:
    code, _, err = _run("plan", "qa", "--project-dir", str(PROJECT_DIR))
    assert code == EXIT_USAGE
    assert "no stack 'qa'" in err and "(stacks: dev, prod, staging)" in err
    assert "evaluating" not in err


def test_broken_yaml_in_a_stack_file_is_a_config_error_with_its_place(project: Path) -> None:
    path = project / "stacks" / "Pulumi.dev.yaml"
    path.write_text("config:\n  mesh-tracing:environment: dev\n  bad: [unclosed\n")
    code, _, err = _run("plan", "dev", "--project-dir", str(project))
    assert code == EXIT_INVALID_CONFIG
    assert f"{path} line 4, column 1: not valid YAML" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file"),
        ('{"resources": []}', "not a mesh-tracing plan"),
        ('{"plan_format": 1, "resources": [{"kind": "x"}]}', "not a mesh-tracing plan"),
        ("[1, 2", "line 1, column 6: not YAML or JSON"),
    ],
)
def test_a_bad_against_file_is_named_before_any_evaluation(
    tmp_path: Path, content: str | None, message: str
) -> None:
    saved = tmp_path / "base.json"
    if content is not None:
        saved.write_text(content)
    code, _, err = _run("plan", "dev", "--against", str(saved), "--project-dir", str(PROJECT_DIR))
    assert code == EXIT_USAGE
    assert f"--against {saved}" in err and message in err
    assert "evaluating" not in err


def test_an_unwritable_output_is_named_before_any_evaluation(tmp_path: Path) -> None:
    target = tmp_path / "missing-dir" / "plan.yaml"
    code, _, err = _run("plan", "dev", "-o", str(target), "--project-dir", str(PROJECT_DIR))
    assert code == EXIT_USAGE
    assert f"--output {target}: the directory {target.parent} does not exist" in err
    assert "evaluating" not in err


def test_version_and_exit_codes_in_help(capsys: pytest.CaptureFixture[str]) -> None:
    from mesh_tracing import __version__

    for argv in (["--version"], ["--help"], ["plan", "--help"]):
        with pytest.raises(SystemExit) as caught:
            run(argv)
        assert caught.value.code == 0
    out = capsys.readouterr().out
    assert f"mesh-tracing {__version__}" in out
    assert out.count("64  wrong usage") == 2 and out.count("3   invalid stack configuration") == 2
