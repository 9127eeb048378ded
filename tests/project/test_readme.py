"""The README stays true to the code: every config key documented, the commands real."""

from __future__ import annotations

import re

import pytest

from mesh_tracing.config import StackConfig, nested_model
from support import PROJECT_DIR

README = (PROJECT_DIR / "README.md").read_text()


def _leaf_keys(model: type, prefix: str = "") -> list[str]:
    keys = []
    for name, field in model.model_fields.items():
        nested = nested_model(field.annotation)
        if nested is not None and name != "namespaces":
            keys.extend(_leaf_keys(nested, f"{prefix}{name}."))
        else:
            keys.append(prefix + name)
    return keys


@pytest.mark.parametrize("key", _leaf_keys(StackConfig))
def test_every_config_key_is_in_the_reference(key: str) -> None:
    assert f"`{key}`" in README


def test_quick_start_has_the_two_commands_ci_uses() -> None:
    quick_start = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"```sh\n(.*?)\n```", quick_start, flags=re.S)
    assert len(commands) == 2
    assert commands[0].split()[-2:] == ["scripts/up", "dev"]
    assert commands[1] == "scripts/test"
    ci = (PROJECT_DIR / ".ci" / "run").read_text()
    assert "\nscripts/test\n" in ci


@pytest.mark.parametrize(
    "header",
    [
        "x-request-id",
        "traceparent",
        "tracestate",
        "x-b3-traceid",
        "x-b3-spanid",
        "x-b3-parentspanid",
        "x-b3-sampled",
        "x-b3-flags",
        "`b3`",
    ],
)
def test_header_propagation_section_names_every_header(header: str) -> None:
    section = README.split("## Apps must forward the trace headers", 1)[1].split("\n## ", 1)[0]
    assert header in section


def test_bring_up_command_explains_a_missing_pulumi_cli(tmp_path) -> None:
    import os
    import subprocess

    env = {**os.environ, "PATH": "/usr/bin:/bin", "PULUMI_CONFIG_PASSPHRASE": "x"}
    result = subprocess.run(
        [str(PROJECT_DIR / "scripts" / "up"), "dev"], env=env, capture_output=True, text=True
    )
    assert result.returncode == 3
    assert "the Pulumi CLI is not installed" in result.stderr


def test_bring_up_command_lists_the_stacks_on_a_wrong_name() -> None:
    import subprocess

    result = subprocess.run(
        [str(PROJECT_DIR / "scripts" / "up"), "qa"], capture_output=True, text=True
    )
    assert result.returncode == 2
    assert "stacks: dev prod staging" in result.stderr
