"""The GitHub workflows: valid against the published workflow schema, and doing what CI needs."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

from support import PROJECT_DIR

WORKFLOWS = PROJECT_DIR / ".github" / "workflows"
README = (PROJECT_DIR / "README.md").read_text()


def _workflow(name: str) -> dict:
    return yaml.safe_load((WORKFLOWS / name).read_text())


def _steps(job: dict) -> list[dict]:
    return job["steps"]


def _check_against_workflow_schema(path) -> subprocess.CompletedProcess:
    """check-jsonschema with its vendored copy of the published GitHub workflow schema."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "check_jsonschema",
            "--builtin-schema",
            "vendor.github-workflows",
            str(path),
        ],
        capture_output=True,
        text=True,
    )


@pytest.mark.parametrize("name", ["preview.yml", "test.yml"])
def test_workflow_is_valid_against_the_github_workflow_schema(name: str) -> None:
    result = _check_against_workflow_schema(WORKFLOWS / name)
    assert result.returncode == 0, result.stdout + result.stderr


def test_schema_check_rejects_a_broken_workflow(tmp_path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text("on: pull_request\njobs:\n  x:\n    steps: []\n")
    assert _check_against_workflow_schema(broken).returncode != 0


def test_preview_runs_per_stack_with_the_policy_pack_and_comments() -> None:
    workflow = _workflow("preview.yml")
    assert "pull_request" in workflow[True]  # YAML reads the `on` key as True
    job = workflow["jobs"]["preview"]
    assert job["strategy"]["matrix"]["stack"] == "${{ fromJSON(needs.stacks.outputs.stacks) }}"
    (pulumi,) = [step for step in _steps(job) if step.get("uses", "").startswith("pulumi/actions@")]
    assert pulumi["uses"] == "pulumi/actions@v7"
    settings = pulumi["with"]
    assert settings["command"] == "preview"
    assert settings["diff"] is True
    assert settings["policyPacks"] == "policy"
    assert settings["stack-name"] == "${{ matrix.stack }}"
    assert "PULUMI_BACKEND_URL" in settings["cloud-url"]
    assert settings["edit-pr-comment"] is True
    assert "PULUMI_ACCESS_TOKEN" not in (WORKFLOWS / "preview.yml").read_text()


def test_preview_installs_with_the_readme_command_and_posts_the_offline_plan() -> None:
    job = _workflow("preview.yml")["jobs"]["preview"]
    scripts = "\n".join(step.get("run", "") for step in _steps(job))
    assert "scripts/install" in scripts
    assert "scripts/install" in README
    assert "mesh-tracing plan" in scripts and "--against base-plan.json" in scripts
    assert "scripts/pr-comment" in scripts


def test_test_workflow_runs_the_readme_test_command() -> None:
    job = _workflow("test.yml")["jobs"]["test"]
    assert any(step.get("run", "").strip() == "scripts/test" for step in _steps(job))
