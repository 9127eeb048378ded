"""The `mesh-tracing` command: offline plans of a stack, and diffs between plans.

    mesh-tracing plan STACK                    the desired state of STACK (YAML)
    mesh-tracing plan STACK --diff OTHER       what changes going from stack OTHER to STACK
    mesh-tracing plan STACK --against FILE     what changes from a saved plan (the base branch's)
    mesh-tracing doctor --jaeger-url URL       where traces break (its own exit codes: doctor -h)

exit codes:
  0   no changes (or a plan written)
  2   changes
  3   invalid stack configuration (the stack file included)
  1   any other failure
  64  wrong usage: an unknown stack, a missing or unreadable file, a bad option
"""

from __future__ import annotations

import argparse
import os
import runpy
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn, Optional, TextIO

import yaml

from ..version import __version__
from .document import PLAN_FORMAT_VERSION, diff_plans
from .evaluate import StackFileError, UnknownStack, read_stack_file, yaml_place
from .render import DIFF_RENDERERS, PLAN_RENDERERS

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_CHANGES = 2
EXIT_INVALID_CONFIG = 3
EXIT_USAGE = 64


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="mesh-tracing",
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n", 1)[1].split("\nexit codes:", 1)[0]
        + "\nexit codes:"
        + __doc__.split("\nexit codes:", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    plan = commands.add_parser(
        "plan",
        epilog="exit codes:" + __doc__.split("\nexit codes:", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        help="evaluate a stack offline and print its desired state or a diff",
        description="Evaluate the project's program for a stack with the Pulumi SDK's mock "
        "runtime (no CLI, cluster or credentials) and print every resource it would register.",
    )
    plan.add_argument("stack", help="stack name: stacks/Pulumi.<STACK>.yaml")
    target = plan.add_mutually_exclusive_group()
    target.add_argument("--diff", metavar="OTHER", help="compare with stack OTHER (OTHER -> STACK)")
    target.add_argument(
        "--against",
        metavar="FILE",
        type=Path,
        help="compare with a plan saved earlier (FILE -> STACK)",
    )
    plan.add_argument(
        "--format",
        choices=sorted({*PLAN_RENDERERS, *DIFF_RENDERERS}),
        help="plan: yaml (default), json, markdown; diff: text (default), json, markdown",
    )
    plan.add_argument(
        "--output", "-o", metavar="FILE", type=Path, help="write there instead of standard output"
    )
    plan.add_argument(
        "--project-dir",
        metavar="DIR",
        type=Path,
        default=Path("."),
        help="the Pulumi project (default: the current directory)",
    )
    plan.add_argument("--quiet", "-q", action="store_true", help="no progress on stderr")
    from ..doctor.cli import add_parser as add_doctor_parser

    add_doctor_parser(commands)
    return parser


class _Project:
    def __init__(self, directory: Path):
        manifest = directory / "Pulumi.yaml"
        if not manifest.is_file():
            raise FileNotFoundError(f"no Pulumi.yaml in {directory.resolve()}")
        document = yaml.safe_load(manifest.read_text()) or {}
        self.directory = directory
        self.name: str = document["name"]
        self.stacks_dir = directory / document.get("stackConfigDir", ".")
        self.entry_point = directory / "__main__.py"

    def program(self) -> Callable[[], None]:
        """The project's own program: its __main__.py, run as Pulumi's language host would."""
        entry_point = self.entry_point
        if not entry_point.is_file():
            from ..program import main

            return main

        def run() -> None:
            sys.path.insert(0, str(entry_point.parent.resolve()))
            try:
                runpy.run_path(str(entry_point), run_name="__main__")
            finally:
                sys.path.remove(str(entry_point.parent.resolve()))

        return run


def _plan(
    project: _Project, stack: str, say: Callable[[str], None], warn: Callable[[str], None]
) -> dict[str, Any]:
    from .document import plan_document
    from .evaluate import evaluate_stack_file

    say(
        f"evaluating stack '{stack}' ({project.stacks_dir / f'Pulumi.{stack}.yaml'}) "
        "with the mock runtime"
    )
    evaluation = evaluate_stack_file(
        project.stacks_dir, stack, project.program(), project=project.name, raise_errors=False
    )
    if evaluation.error is not None:
        raise evaluation.error
    say(f"stack '{stack}': {len(evaluation.resources)} resources")
    for warning in evaluation.warnings:
        warn(f"stack '{stack}': {warning}")
    return plan_document(evaluation, project.name)


def _is_config_error(error: BaseException) -> bool:
    from ..config import ConfigError
    from ..program import InvalidStackConfig

    return isinstance(error, (ConfigError, InvalidStackConfig, StackFileError))


def _write(text: str, output: Optional[Path], stdout: TextIO) -> None:
    if output is None:
        stdout.write(text)
    else:
        output.write_text(text)


def run(
    argv: Optional[Sequence[str]] = None, stdout: TextIO = sys.stdout, stderr: TextIO = sys.stderr
) -> int:
    arguments = _parser().parse_args(argv)
    if arguments.command == "doctor":
        from ..doctor.cli import run as run_doctor

        return run_doctor(arguments, stdout, stderr)
    diffing = arguments.diff is not None or arguments.against is not None
    renderers = DIFF_RENDERERS if diffing else PLAN_RENDERERS
    allowed = list(renderers)
    output_format = arguments.format or allowed[0]
    if output_format not in allowed:
        stderr.write(
            f"mesh-tracing: error: --format {output_format} is not available for a "
            f"{'diff' if diffing else 'plan'}; choose one of {', '.join(allowed)}\n"
        )
        return EXIT_USAGE

    def say(message: str) -> None:
        if not arguments.quiet:
            stderr.write(f"mesh-tracing: {message}\n")

    def warn(message: str) -> None:
        # Shown whatever --quiet says: it is what `pulumi preview` would warn about.
        stderr.write(f"mesh-tracing: warning: {message}\n")

    try:
        project = _Project(arguments.project_dir)
        # Everything the command reads or writes is checked before the evaluation, which takes
        # seconds: a typo in a file name should not cost them.
        for stack in (arguments.stack, arguments.diff):
            if stack is not None:
                read_stack_file(project.stacks_dir, stack)
        old = _read_plan(arguments.against) if arguments.against is not None else None
        if arguments.output is not None:
            _check_writable(arguments.output)
    except (UnknownStack, InputFileError) as error:
        stderr.write(f"mesh-tracing: error: {error}\n")
        return EXIT_USAGE
    except StackFileError as error:
        stderr.write(f"{error}\n")
        return EXIT_INVALID_CONFIG
    except FileNotFoundError as error:
        stderr.write(f"mesh-tracing: error: {error}\n")
        return EXIT_USAGE

    try:
        new = _plan(project, arguments.stack, say, warn)
        if not diffing:
            _write(renderers[output_format](new), arguments.output, stdout)
            return EXIT_OK
        if arguments.diff is not None:
            old = _plan(project, arguments.diff, say, warn)
        diff = diff_plans(old, new)  # type: ignore[arg-type]
        _write(renderers[output_format](diff), arguments.output, stdout)
        return EXIT_CHANGES if diff.has_changes else EXIT_OK
    except Exception as error:  # every failure becomes a message and an exit code
        if _is_config_error(error):
            stderr.write(f"{error}\n")
            return EXIT_INVALID_CONFIG
        stderr.write(f"mesh-tracing: error: {error}\n")
        return EXIT_FAILURE


class InputFileError(ValueError):
    """A file named on the command line that cannot be used; the message says which and why."""


def _read_plan(path: Path) -> dict[str, Any]:
    """A saved plan, or InputFileError saying what is wrong with the file."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise InputFileError(f"--against {path}: no such file") from None
    except IsADirectoryError:
        raise InputFileError(f"--against {path}: is a directory, not a plan file") from None
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise InputFileError(f"--against {path}: cannot be read ({reason})") from None
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise InputFileError(f"--against {path}{yaml_place(error)}: not YAML or JSON") from None
    resources = document.get("resources") if isinstance(document, dict) else None
    if (
        not isinstance(document, dict)
        or document.get("plan_format") != PLAN_FORMAT_VERSION
        or not isinstance(resources, list)
        or not all(isinstance(item, dict) and {"type", "name"} <= item.keys() for item in resources)
    ):
        raise InputFileError(
            f"--against {path}: not a mesh-tracing plan (format {PLAN_FORMAT_VERSION}); "
            "save one with `mesh-tracing plan STACK --format json -o FILE`"
        )
    return document


def _check_writable(path: Path) -> None:
    if path.is_dir():
        raise InputFileError(f"--output {path}: is a directory")
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise InputFileError(f"--output {path}: the directory {directory} does not exist")
    if not os.access(path if path.exists() else directory, os.W_OK):
        raise InputFileError(f"--output {path}: not writable")


def main() -> None:
    sys.exit(run())
