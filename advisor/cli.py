"""The CLI only dispatches: each command lives in ``advisor/commands/<name>.py``.

A command module defines ``NAME`` (the sub-command), ``HELP`` (one line), ``add_arguments(parser)``
and ``run(args) -> int``. Modules are discovered, so adding a command never edits this file.
Command modules import their heavy code inside ``run``; ``--help`` stays instant.

Exit codes: 0 success, 2 bad input or refused operation (an ``AdvisorError``, message on
stderr, no traceback), 1 unexpected failure, 130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Any

from core.errors import AdvisorError
from core.workspace import ENV_VAR, Workspace


def _command_modules() -> list[ModuleType]:
    import advisor.commands as package

    modules = []
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"advisor.commands.{info.name}")
        if hasattr(module, "NAME") and hasattr(module, "run"):
            modules.append(module)
    return modules


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (every discovered command)."""
    parser = argparse.ArgumentParser(
        prog="advisor",
        description="Fine-tune, RAG, both, or neither? Ask, recommend, then prove it on your own data.",
    )
    parser.add_argument(
        "--workspace",
        default=None,
        help=f"folder holding every artifact (default: ${ENV_VAR} or ./workspace)",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in _command_modules():
        cmd = sub.add_parser(module.NAME, help=module.HELP, description=getattr(module, "DESCRIPTION", module.HELP))
        module.add_arguments(cmd)
        cmd.set_defaults(_run=module.run)
    return parser


def _version() -> str:
    from advisor import __version__

    return __version__


def positive_int(text: str) -> int:
    """argparse type for counts: a whole number above zero, with a message that says so."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {value}")
    return value


def workspace_of(args: argparse.Namespace) -> Workspace:
    """The workspace chosen by ``--workspace`` / ``$ADVISOR_WORKSPACE`` / default, created if missing."""
    return Workspace.resolve(getattr(args, "workspace", None)).ensure()


def print_json(obj: Any) -> None:
    """Print ``obj`` as indented JSON on stdout (the machine-readable output of every command)."""
    print(json.dumps(obj, indent=2, default=str, ensure_ascii=False))


def default_of(config_cls: type, name: str) -> Any:
    """The default of a config dataclass field, for help texts that state the real default (never a copy that drifts)."""
    field = config_cls.__dataclass_fields__[name]  # type: ignore[attr-defined]
    return field.default


class ProgressBar:
    """A tqdm bar on stderr fed by the ``progress(done, total)`` callbacks of long library calls (evaluations)."""

    def __init__(self, desc: str, unit: str = "item", disable: bool = False) -> None:
        self.desc, self.unit, self.disable = desc, unit, disable
        self._bar: Any = None

    def __call__(self, done: int, total: int) -> None:
        if self._bar is None:
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc=self.desc, unit=self.unit, dynamic_ncols=True, disable=self.disable, file=sys.stderr)
        self._bar.total = total
        self._bar.n = done
        self._bar.refresh()
        if done >= total:
            self.close()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def main(argv: Sequence[str] | None = None) -> int:
    """Parse, dispatch, and turn expected failures into a message and exit code 2."""
    parser = build_parser()
    args = parser.parse_args(argv)
    run = getattr(args, "_run", None)
    if run is None:
        parser.print_help()
        return 0
    try:
        return int(run(args) or 0)
    except AdvisorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
