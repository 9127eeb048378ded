"""The README stays true to the code: every config key documented, the commands real."""

from __future__ import annotations

import ast
import io
import re
from pathlib import Path

import pytest

from mesh_tracing.config import StackConfig, nested_model
from mesh_tracing.plan import cli
from support import PROJECT_DIR, STACKS, evaluated

README = (PROJECT_DIR / "README.md").read_text()


def _section(heading: str) -> str:
    """The README's text under a heading, up to the next heading of the same level."""
    level = heading.split(" ", 1)[0]
    return README.split(f"\n{heading}\n", 1)[1].split(f"\n{level} ", 1)[0]


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
    # ... and offers the way that needs nothing installed: the toolchain and a local cluster.
    assert "scripts/up dev --local" in result.stderr


def test_bring_up_command_lists_the_stacks_on_a_wrong_name() -> None:
    import subprocess

    result = subprocess.run(
        [str(PROJECT_DIR / "scripts" / "up"), "qa"], capture_output=True, text=True
    )
    assert result.returncode == 2
    assert "stacks: dev prod staging" in result.stderr


def test_every_plan_command_runs_as_written_after_install() -> None:
    """`scripts/install` (and `scripts/up`, `scripts/test`) put `mesh-tracing` in `.venv/bin`,
    not on PATH: each README command calls it there, or its block activates the venv first."""
    assert 'venv="${VENV_DIR:-.venv}"' in (PROJECT_DIR / "scripts" / "install").read_text()
    assert "scripts/install" in (PROJECT_DIR / "scripts" / "up").read_text()
    assert (
        'mesh-tracing = "mesh_tracing.plan.cli:main"'
        in (PROJECT_DIR / "pyproject.toml").read_text()
    )
    commands = []
    for block in re.findall(r"```sh\n(.*?)\n```", README, flags=re.S):
        activated = False
        for line in block.splitlines():
            command = line.split("#", 1)[0].strip()
            if command in ("source .venv/bin/activate", ". .venv/bin/activate"):
                activated = True
            if re.search(r"(^|[\s/])mesh-tracing plan\b", command):
                commands.append(command)
                assert activated or command.startswith(".venv/bin/mesh-tracing plan "), command
    assert len(commands) >= 5


def _diff_lines_by_resource(lines: list[str]) -> dict[str, list[str]]:
    """A text diff's lines below its summary, grouped under their `+`, `-`, `~` header line."""
    grouped: dict[str, list[str]] = {}
    header = None
    for line in lines:
        if not line.startswith(" "):
            header = line
            grouped[header] = []
        else:
            assert header is not None, line
            grouped[header].append(line)
    return grouped


def test_plan_diff_example_is_what_the_command_prints() -> None:
    section = _section("### `mesh-tracing plan`")
    (example,) = [
        block
        for language, block in re.findall(r"```(\w*)\n(.*?)\n```", section, flags=re.S)
        if not language and block.startswith("Plan diff ")
    ]
    assert "mesh-tracing plan prod --diff dev" in section
    stdout, stderr = io.StringIO(), io.StringIO()
    status = cli.run(
        ["plan", "prod", "--diff", "dev", "--project-dir", str(PROJECT_DIR), "--quiet"],
        stdout=stdout,
        stderr=stderr,
    )
    assert status == cli.EXIT_CHANGES, stderr.getvalue()
    summary, *shown = example.splitlines()
    real_summary, *real = stdout.getvalue().splitlines()
    assert summary == real_summary
    real_by_resource = _diff_lines_by_resource(real)
    for header, details in _diff_lines_by_resource(shown).items():
        assert header in real_by_resource, f"not in the real diff: {header}"
        for detail in details:
            assert detail in real_by_resource[header], f"not in the real diff of {header}: {detail}"


def test_stack_outputs_list_is_what_the_program_exports() -> None:
    (paragraph,) = re.findall(r"\nStack outputs: (.*?)\n\n", README, flags=re.S)
    documented = re.findall(r"`([a-z_]+)`", re.sub(r"\([^)]*\)", "", paragraph))
    exported = set().union(*(evaluated(stack).outputs for stack in STACKS))
    assert sorted(documented) == sorted(exported)


def _benchmark_repeat_default() -> int:
    tree = ast.parse((PROJECT_DIR / "benchmarks" / "evaluation.py").read_text())
    (default,) = [
        keyword.value.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and getattr(node.func, "attr", None) == "add_argument"
        and node.args
        and getattr(node.args[0], "value", None) == "--repeat"
        for keyword in node.keywords
        if keyword.arg == "default"
    ]
    return default


def test_benchmark_figures_say_how_many_runs_the_script_takes() -> None:
    repeat = _benchmark_repeat_default()
    section = _section("### How evaluation time scales")
    assert re.findall(r"median of (\d+)", section) == [str(repeat)]
    assert f"--repeat {repeat}" in section


def test_install_line_names_something_that_can_be_installed() -> None:
    """The package is not on PyPI: install a checkout, a git tag or a wheel built from one."""
    section = _section("### From Python")
    (block,) = re.findall(r"```sh\n(.*?)\n```", section, flags=re.S)
    (name,) = re.findall(r'(?m)^name = "(.+)"$', (PROJECT_DIR / "pyproject.toml").read_text())
    sources = []
    for line in block.splitlines():
        command = line.split("#", 1)[0].strip()
        assert command.startswith("pip install "), command
        sources.append(command[len("pip install ") :].strip("'"))
    for source in sources:
        assert source.startswith("/") or re.fullmatch(
            rf"{re.escape(name)} @ git\+https://github\.com/[^/]+/{re.escape(name)}@v[^ ]+", source
        ), source
    assert any(" @ git+https://" in source for source in sources)
    assert "python -m build" in section and "pip install dist/*.whl" in section
    assert "pinned release" not in README


def _layout_entries() -> list[tuple[Path, str]]:
    """Each path the README's layout names, with the line naming it."""
    block = README.split("## Layout", 1)[1].split("```", 2)[1]
    entries: list[tuple[Path, str]] = []
    parents: list[Path] = []
    for line in block.strip("\n").splitlines():
        depth = (len(line) - len(line.lstrip(" "))) // 2
        names = re.split(r"\s{2,}", line.strip(), maxsplit=1)[0].split()
        parents = parents[:depth]
        base = parents[-1] if parents else PROJECT_DIR
        for name in names:
            entries.append((base / name.rstrip("/"), line))
        if len(names) == 1 and names[0].endswith("/"):
            parents.append(base / names[0].rstrip("/"))
    return entries


def test_every_path_in_the_layout_exists() -> None:
    for path, line in _layout_entries():
        assert path.exists(), f"the README's layout names {path}, which is not there: {line!r}"


def test_the_layout_names_every_module_of_the_package() -> None:
    named = {path for path, _ in _layout_entries()}
    package = PROJECT_DIR / "components"
    for path in [*package.glob("*.py"), *package.glob("*/"), *package.glob("config/*.py")]:
        if path.name in ("__pycache__",) or path.name.endswith(".egg-info"):
            continue
        if path.parent.name == "config" and path.name == "__init__.py":
            continue
        assert path in named, f"{path.relative_to(PROJECT_DIR)} is missing from the README's layout"
    for path in (package / "plan").glob("*.py"):
        assert path.name == "__init__.py" or path in named, f"{path} missing from the layout"
