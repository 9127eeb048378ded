"""The GitHub workflows: valid against the published workflow schema, and doing what CI needs."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

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


# The preview job's OIDC login, per backend scheme: the official action, its inputs, and the
# tools a kubeconfig with that cloud's exec plugin needs next to it.
CLOUD_LOGINS = {
    "s3": ("aws-actions/configure-aws-credentials", {"role-to-assume", "aws-region"}, []),
    "azblob": (
        "azure/login",
        {"client-id", "tenant-id", "subscription-id"},
        ["azure/use-kubelogin"],
    ),
    "gs": (
        "google-github-actions/auth",
        {"workload_identity_provider", "service_account"},
        ["google-github-actions/setup-gcloud"],
    ),
}
EXAMPLE_BACKENDS = {
    "s3": "s3://mesh-tracing-state?region=eu-west-1",
    "azblob": "azblob://mesh-tracing-state?storage_account=meshtracing",
    "gs": "gs://mesh-tracing-state",
}


def _preview_job() -> dict:
    return _workflow("preview.yml")["jobs"]["preview"]


def _step(job: dict, step_id: str) -> dict:
    (step,) = [step for step in _steps(job) if step.get("id") == step_id]
    return step


def _action(step: dict) -> str:
    return step.get("uses", "").split("@", 1)[0]


def _backend_step(backend_url: str, tmp_path: Path) -> tuple[subprocess.CompletedProcess, dict]:
    """Runs the job's `backend` step script as the runner would; its result and outputs."""
    output = tmp_path / "github_output"
    output.write_text("")
    result = subprocess.run(
        ["bash", "-e", "-c", _step(_preview_job(), "backend")["run"]],
        env={
            "PATH": "/usr/bin:/bin",
            "PULUMI_BACKEND_URL": backend_url,
            "GITHUB_OUTPUT": str(output),
        },
        capture_output=True,
        text=True,
    )
    outputs = dict(line.split("=", 1) for line in output.read_text().splitlines() if "=" in line)
    return result, outputs


_TOKEN = re.compile(r"\s*(\(|\)|&&|\|\||==|!=|!|'[^']*'|[A-Za-z_][\w.-]*)")


def _condition_holds(
    condition: str, steps: dict[str, dict[str, str]], env: dict[str, str] | None = None
) -> bool:
    """A step's `if:` under the given step outputs and env. Only the expression forms our
    workflows use (step outputs, env, string literals, ==, !=, !, &&, ||, parentheses); anything
    else fails the test rather than being guessed."""
    env = env or {}
    expression = condition.strip()
    if expression.startswith("${{") and expression.endswith("}}"):
        expression = expression[3:-2]
    python, position = [], 0
    while expression[position:].strip():
        match = _TOKEN.match(expression, position)
        assert match, f"unsupported expression in `if: {condition}`"
        token, position = match.group(1), match.end()
        reference = re.fullmatch(r"steps\.([\w-]+)\.outputs\.([\w-]+)", token)
        if token in ("(", ")", "==", "!="):
            python.append(token)
        elif token in ("&&", "||", "!"):
            python.append({"&&": "and", "||": "or", "!": "not"}[token])
        elif token.startswith("'"):
            python.append(repr(token[1:-1]))
        elif reference:
            python.append(repr(steps.get(reference[1], {}).get(reference[2], "")))
        elif token.startswith("env."):
            python.append(repr(env.get(token[len("env.") :], "")))
        else:
            raise AssertionError(f"unsupported `{token}` in `if: {condition}`")
    return bool(eval(" ".join(python), {"__builtins__": {}}))


def _active_steps(job: dict, steps: dict[str, dict[str, str]]) -> list[dict]:
    return [step for step in _steps(job) if "if" not in step or _condition_holds(step["if"], steps)]


def test_preview_job_may_request_oidc_tokens() -> None:
    # A job's permissions replace the workflow's, so the job states all it needs.
    assert _preview_job()["permissions"] == {
        "contents": "read",
        "pull-requests": "write",
        "id-token": "write",
    }


@pytest.mark.parametrize(("scheme", "url"), [*EXAMPLE_BACKENDS.items(), ("", "")])
def test_backend_step_reports_the_scheme(scheme: str, url: str, tmp_path) -> None:
    result, outputs = _backend_step(url, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert outputs == {"scheme": scheme}


@pytest.mark.parametrize(
    "url", ["file:///home/runner/.pulumi-state", "file://~", "https://api.pulumi.com", "bucket"]
)
def test_preview_refuses_a_backend_that_is_not_a_cloud_bucket(url: str, tmp_path) -> None:
    result, outputs = _backend_step(url, tmp_path)
    assert result.returncode != 0
    assert "s3://, azblob:// or gs://" in result.stdout
    assert "scheme" not in outputs


def test_preview_does_not_suggest_a_local_file_backend() -> None:
    assert "file://" not in (WORKFLOWS / "preview.yml").read_text()


@pytest.mark.parametrize("scheme", sorted(CLOUD_LOGINS))
def test_each_backend_scheme_logs_in_with_exactly_one_oidc_step(scheme: str, tmp_path) -> None:
    job = _preview_job()
    action, inputs, tools = CLOUD_LOGINS[scheme]
    logins = {login for login, _, _ in CLOUD_LOGINS.values()}
    _, backend = _backend_step(EXAMPLE_BACKENDS[scheme], tmp_path)
    active = _active_steps(job, {"backend": backend, "real": {"run": "true"}})
    (login,) = [step for step in active if _action(step) in logins]
    assert _action(login) == action
    assert "steps.backend.outputs.scheme" in login["if"] and f"'{scheme}'" in login["if"]
    assert set(login["with"]) == inputs
    for value in login["with"].values():
        assert re.fullmatch(r"\$\{\{ vars\.[A-Z0-9_]+ \}\}", value), value
    # The login comes after the scheme is known and before Pulumi needs the credentials.
    steps = _steps(job)
    pulumi_at = next(i for i, step in enumerate(steps) if _action(step) == "pulumi/actions")
    assert steps.index(_step(job, "backend")) < steps.index(login) < pulumi_at
    assert [_action(step) for step in active if _action(step) in tools] == tools


def test_cloud_logins_are_one_per_scheme_and_only_for_the_real_preview(tmp_path) -> None:
    job = _preview_job()
    logins = {login for login, _, _ in CLOUD_LOGINS.values()}
    assert sorted(_action(step) for step in _steps(job) if _action(step) in logins) == sorted(
        logins
    )
    for scheme in [*EXAMPLE_BACKENDS, ""]:
        _, backend = _backend_step(EXAMPLE_BACKENDS.get(scheme, ""), tmp_path)
        for run in ("true", "false"):
            active = _active_steps(job, {"backend": backend, "real": {"run": run}})
            expected = [CLOUD_LOGINS[scheme][0]] if scheme and run == "true" else []
            assert [_action(step) for step in active if _action(step) in logins] == expected


def test_condition_evaluator_understands_our_conditions() -> None:
    steps = {"real": {"run": "true"}, "backend": {"scheme": "gs"}}
    assert _condition_holds(
        "steps.real.outputs.run == 'true' && steps.backend.outputs.scheme == 'gs'", steps
    )
    assert not _condition_holds("${{ steps.backend.outputs.scheme == 's3' }}", steps)
    assert _condition_holds("!(steps.backend.outputs.scheme != 'gs')", steps)
    with pytest.raises(AssertionError):
        _condition_holds("contains(steps.backend.outputs.scheme, 'g')", steps)


def test_readme_names_every_variable_and_secret_the_workflows_read() -> None:
    section = README.split("## Preview diffs on pull requests", 1)[1].split("\n## ", 1)[0]
    names = set()
    for workflow in WORKFLOWS.glob("*.yml"):
        names |= set(
            re.findall(r"\b(?:vars|secrets)\.([A-Za-z_][A-Za-z0-9_]*)", workflow.read_text())
        )
    assert {"PULUMI_BACKEND_URL", "AWS_ROLE_ARN", "AZURE_CLIENT_ID", "GCP_SERVICE_ACCOUNT"} <= names
    missing = sorted(name for name in names if f"`{name}`" not in section)
    assert not missing, f"not documented in the README's preview section: {missing}"


@pytest.mark.parametrize(
    "needed",
    [
        "permissions: id-token: write",
        "token.actions.githubusercontent.com",
        "sts:AssumeRoleWithWebIdentity",
        "`s3:GetObject`",
        "`s3:PutObject`",
        "`s3:ListBucket`",
        "`s3:DeleteObject`",
        "federated credential",
        "`Storage Blob Data Contributor`",
        "workload identity pool",
        "`roles/iam.workloadIdentityUser`",
        "`roles/storage.objectAdmin`",
        "`aws eks get-token`",
        "`kubelogin",
        "`gke-gcloud-auth-plugin`",
    ],
)
def test_readme_says_what_each_cloud_needs(needed: str) -> None:
    section = README.split("## Preview diffs on pull requests", 1)[1].split("\n## ", 1)[0]
    assert needed in section
    assert "file://" not in section


# The nightly drift check (.github/workflows/drift.yml).


def _drift_job() -> dict:
    return _workflow("drift.yml")["jobs"]["drift"]


def test_drift_workflow_is_valid_against_the_github_workflow_schema() -> None:
    result = _check_against_workflow_schema(WORKFLOWS / "drift.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_drift_runs_nightly_and_on_demand_per_stack() -> None:
    workflow = _workflow("drift.yml")
    triggers = workflow[True]  # YAML reads the `on` key as True
    (schedule,) = triggers["schedule"]
    minute, hour, day, month, weekday = schedule["cron"].split()
    assert (day, month, weekday) == ("*", "*", "*") and hour.isdigit() and minute.isdigit()
    assert "workflow_dispatch" in triggers
    job = _drift_job()
    assert job["strategy"]["matrix"]["stack"] == "${{ fromJSON(needs.stacks.outputs.stacks) }}"
    assert job["strategy"]["fail-fast"] is False
    assert job["env"]["STACK"] == "${{ matrix.stack }}"
    assert job["permissions"] == {"contents": "read", "id-token": "write"}
    assert "PULUMI_ACCESS_TOKEN" not in (WORKFLOWS / "drift.yml").read_text()


def _run_step(job: dict, step_id: str, env: dict[str, str], cwd: Path) -> tuple:
    """Runs a step's script as the runner would (bash -e); its result and outputs."""
    output, summary = cwd / "github_output", cwd / "summary.md"
    output.write_text("")
    summary.write_text("")
    result = subprocess.run(
        ["bash", "-e", "-c", _step(job, step_id)["run"]],
        env={"GITHUB_OUTPUT": str(output), "GITHUB_STEP_SUMMARY": str(summary), **env},
        cwd=cwd,
        capture_output=True,
        text=True,
    )
    outputs = dict(line.split("=", 1) for line in output.read_text().splitlines() if "=" in line)
    return result, outputs, summary.read_text()


@pytest.mark.parametrize("scheme", sorted(CLOUD_LOGINS))
def test_drift_logs_into_each_backend_with_exactly_one_oidc_step(scheme: str, tmp_path) -> None:
    job = _drift_job()
    env = {
        "PATH": "/usr/bin:/bin",
        "PULUMI_BACKEND_URL": EXAMPLE_BACKENDS[scheme],
        "PULUMI_CONFIG_PASSPHRASE": "p",
        "KUBECONFIG_CONTENT": "apiVersion: v1",
        "STACK": "prod",
    }
    result, real, _ = _run_step(job, "real", env, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert real == {"scheme": scheme, "run": "true"}
    logins = {login for login, _, _ in CLOUD_LOGINS.values()}
    active = _active_steps(job, {"real": real})
    assert [_action(step) for step in active if _action(step) in logins] == [
        CLOUD_LOGINS[scheme][0]
    ]
    assert any(step.get("id") == "drift" for step in active)


@pytest.mark.parametrize("url", ["", "file:///home/runner/.pulumi-state"])
def test_drift_without_a_cloud_backend_checks_nothing_or_refuses(url: str, tmp_path) -> None:
    job = _drift_job()
    env = {"PATH": "/usr/bin:/bin", "PULUMI_BACKEND_URL": url, "STACK": "dev"}
    result, real, summary = _run_step(job, "real", env, tmp_path)
    if url:
        assert result.returncode != 0 and "s3://, azblob:// or gs://" in result.stdout
        return
    assert result.returncode == 0 and real == {"scheme": "", "run": "false"}
    assert "no drift check for dev" in summary
    assert not any(step.get("id") == "drift" for step in _active_steps(job, {"real": real}))


FAKE_PULUMI = """#!/usr/bin/env bash
echo "$*" >> "$PULUMI_CALLS"
if [ "$1" = preview ]; then
  printf '%s\\n' "$PREVIEW_OUTPUT"
  exit "$PREVIEW_STATUS"
fi
"""


@pytest.mark.parametrize("drifted", [False, True])
def test_drift_step_fails_with_the_diff_in_the_summary_when_the_cluster_drifted(
    drifted: bool, tmp_path
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "pulumi").write_text(FAKE_PULUMI)
    (bin_dir / "pulumi").chmod(0o755)
    diff = "~ kubernetes:telemetry.istio.io/v1:Telemetry mesh-istio-telemetry-istio-system\n" + (
        "    ~ randomSamplingPercentage: 100 => 1\nerror: no changes were expected"
    )
    env = {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "PULUMI_BACKEND_URL": "s3://state",
        "PULUMI_CALLS": str(tmp_path / "calls"),
        "PREVIEW_OUTPUT": diff if drifted else "no changes",
        "PREVIEW_STATUS": "255" if drifted else "0",
        "STACK": "prod",
    }
    result, _, summary = _run_step(_drift_job(), "drift", env, tmp_path)
    calls = (tmp_path / "calls").read_text().splitlines()
    assert calls[0] == "login s3://state"
    preview = calls[1].split()
    assert preview[:3] == ["preview", "--stack", "prod"]
    assert {"--refresh", "--expect-no-changes", "--diff", "--non-interactive"} <= set(preview)
    assert preview[preview.index("--policy-pack") + 1] == "policy"
    if drifted:
        assert result.returncode == 255
        assert "prod: the cluster drifted" in summary
        assert "```diff\n" + diff + "\n```" in summary
        assert "pulumi up --refresh --stack prod" in summary
    else:
        assert result.returncode == 0, result.stdout + result.stderr
        assert summary.strip() == "### prod: no drift"


def test_readme_says_how_drift_is_checked_and_restored() -> None:
    section = README.split("## When things go wrong", 1)[1].split("\n## ", 1)[0]
    assert ".github/workflows/drift.yml" in section
    assert "pulumi preview --refresh --expect-no-changes" in section
    assert "pulumi up --refresh" in section
