"""The CLI only dispatches: each command lives in ``advisor/commands/<name>.py``.

A command module defines ``NAME`` (the sub-command), ``HELP`` (one line), ``add_arguments(parser)``
and ``run(args) -> int``. Modules are discovered, so adding a command never edits this file.
Command modules import their heavy code inside ``run``; ``--help`` stays instant.

Exit codes: 0 success, 2 bad input or refused operation (an ``AdvisorError``, message on
stderr, no traceback), 1 unexpected failure, 130 interrupted.
"""

from __future__ import annotations

import argparse
import errno
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
        type=path_arg,
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


MAX_COUNT = 10**9
"""Largest count any option accepts (a typo with twenty digits is refused, not run for ever)."""


def bounded_int(low: int = 1, high: int = MAX_COUNT):
    """argparse type for a whole number in ``[low, high]``, with a message that states the rule."""

    def parse(text: str) -> int:
        try:
            value = int(str(text).strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text[:40]!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"`{low} <= value <= {high}` must hold, but got {str(value)[:40]}")
        return value

    parse.__name__ = "whole number"
    return parse


positive_int = bounded_int(1)
"""argparse type for counts: a whole number above zero (and at most MAX_COUNT)."""

non_negative_int = bounded_int(0)

seed_int = bounded_int(0, 2**32 - 1)
"""argparse type for seeds (numpy and torch take 32-bit seeds)."""


def bounded_float(low: float = 0.0, high: float = 1e15, low_open: bool = True):
    """argparse type for a finite number above ``low`` (or at least it) and at most ``high``."""
    import math

    def parse(text: str) -> float:
        try:
            value = float(str(text).strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text[:40]!r}") from None
        if not math.isfinite(value) or (value <= low if low_open else value < low) or value > high:
            rule = f"{low} {'<' if low_open else '<='} value <= {high:g}"
            raise argparse.ArgumentTypeError(f"`{rule}` must hold (finite), but got {text[:40]}")
        return value

    parse.__name__ = "number"
    return parse


positive_float = bounded_float(0.0)

MAX_PATH_CHARS = 4096


def path_arg(text: str) -> str:
    """argparse type for a file or folder path: not empty, no NUL, not absurdly long (the OS limits)."""
    import os

    if not text or not text.strip():
        raise argparse.ArgumentTypeError("a path is required, got an empty string (it would mean the current folder)")
    if "\x00" in text:
        raise argparse.ArgumentTypeError("a path cannot contain a NUL character")
    if len(text) > MAX_PATH_CHARS or any(len(os.fsencode(part)) > 255 for part in text.split("/")):
        raise argparse.ArgumentTypeError(f"path of {len(text)} characters is too long (at most {MAX_PATH_CHARS}, 255 per name)")
    return text


path_arg.__name__ = "path"


def url_arg(text: str) -> str:
    """argparse type for a storage URL: given means not empty (an empty one would silently mean the default)."""
    if not text or not text.strip() or "\x00" in text or len(text) > MAX_PATH_CHARS:
        raise argparse.ArgumentTypeError("a storage URL is required when --storage is given (sqlite:///PATH or postgresql://...)")
    return text


url_arg.__name__ = "url"


def workspace_of(args: argparse.Namespace) -> Workspace:
    """The workspace chosen by ``--workspace`` / ``$ADVISOR_WORKSPACE`` / default, created if missing."""
    return Workspace.resolve(getattr(args, "workspace", None)).ensure()


def print_json(obj: Any) -> None:
    """Print ``obj`` as indented JSON on stdout (the machine-readable output of every command)."""
    print(json.dumps(obj, indent=2, default=str, ensure_ascii=False))


_INPUT_ERRNOS = {errno.ENAMETOOLONG, errno.ENOENT, errno.ENOTDIR, errno.EISDIR, errno.EACCES, errno.EPERM,
                 errno.ELOOP, errno.EIO, errno.EINVAL, errno.ENXIO, errno.ESPIPE}
"""OS errors that mean "this path cannot be used" (bad input, exit 2); others stay unexpected (exit 1)."""
def default_of(config_cls: type, name: str) -> Any:
    """The default of a config dataclass field, for help texts that state the real default (never a copy that drifts)."""
    field = config_cls.__dataclass_fields__[name]  # type: ignore[attr-defined]
    return field.default


class ProgressBar:
    """A tqdm bar on stderr fed by the ``progress(done, total)`` callbacks of long library calls (evaluations)."""

    def __init__(self, desc: str, unit: str = "item", disable: bool | None = False, leave: bool = True) -> None:
        self.desc, self.unit, self.disable, self.leave = desc, unit, disable, leave
        self._bar: Any = None

    def __call__(self, done: int, total: int) -> None:
        if self._bar is None:
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc=self.desc, unit=self.unit, dynamic_ncols=True, disable=self.disable, file=sys.stderr,
                             leave=self.leave)
        self._bar.total = total
        self._bar.n = done
        self._bar.refresh()
        if done >= total:
            self.close()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


class StageProgress:
    """One :class:`ProgressBar` per stage, fed by ``progress(stage, done, total)`` callbacks (index builds,
    data generation); each stage's bar closes when it is done."""

    def __init__(self, unit: str = "item", disable: bool | None = False) -> None:
        self.unit, self.disable = unit, disable
        self.bars: dict[str, ProgressBar] = {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        bar = self.bars.get(stage)
        if bar is None:
            bar = self.bars[stage] = ProgressBar(stage, self.unit, disable=self.disable, leave=False)
        bar(done, total)

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()


def main(argv: Sequence[str] | None = None) -> int:
    """Parse, dispatch, and turn expected failures into a message and exit code 2."""
    parser = build_parser()
    args = parser.parse_args(argv)
    run = getattr(args, "_run", None)
    if run is None:
        parser.print_help()
        return 0
    from core import quiet

    quiet.install()  # before any command loads a library that alarms without helping
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
    except OSError as exc:
        if exc.errno not in _INPUT_ERRNOS:
            raise
        where = f" {exc.filename}" if exc.filename else ""
        print(f"error: cannot use{where}: {exc.strerror or exc}. Check the path you passed.", file=sys.stderr)
        return 2

