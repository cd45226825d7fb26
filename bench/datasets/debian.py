"""Debian package records (the archive's ``Packages`` index) as typed records.

The default source is ``apt-cache dumpavail``: every package of the archives in this machine's
apt lists (Debian 12 "bookworm" main here), one record per package. A plain ``Packages`` or
``/var/lib/dpkg/status`` file can be given instead (``--packages PATH``) for a fixed input.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

_CLAUSE_NAME = re.compile(r"^\s*([a-z0-9][a-z0-9+.\-]*)")


@dataclass(frozen=True)
class DebPackage:
    """The fields of one Packages stanza that the data sets use (no maintainer: personal data)."""

    name: str
    source: str
    """Source package: binaries built from one source share a group."""
    version: str
    section: str
    architecture: str
    installed_size_kib: int | None
    depends: tuple[str, ...]
    """First alternative of each Depends clause, without version constraints or ``:any``."""
    description: str
    """The short (one-line) description."""
    homepage: str | None
    filename: str
    """Path in the archive (``pool/main/...``): tells the component."""

    @property
    def component(self) -> str:
        parts = self.filename.split("/")
        return parts[1] if len(parts) > 1 and parts[0] == "pool" else ""


def read_stanzas(text: str) -> list[dict[str, str]]:
    """RFC 822 stanzas (blank-line separated, continuation lines start with a space)."""
    stanzas: list[dict[str, str]] = []
    current: dict[str, str] = {}
    key = ""
    for line in text.splitlines():
        if not line.strip():
            if current:
                stanzas.append(current)
            current, key = {}, ""
        elif line[0] in " \t":
            if key:
                current[key] += "\n" + line.strip()
        else:
            key, _, value = line.partition(":")
            current[key] = value.strip()
    if current:
        stanzas.append(current)
    return stanzas


def parse_depends(value: str) -> tuple[str, ...]:
    names: list[str] = []
    for clause in value.split(","):
        match = _CLAUSE_NAME.match(clause.split("|")[0])
        if match and match.group(1) not in names:
            names.append(match.group(1))
    return tuple(names)


def to_package(stanza: dict[str, str]) -> DebPackage | None:
    """The record, or None when a needed field is missing."""
    name, version, section = stanza.get("Package"), stanza.get("Version"), stanza.get("Section")
    description = stanza.get("Description", "").split("\n", 1)[0].strip()
    if not (name and version and section and description):
        return None
    size = stanza.get("Installed-Size", "")
    source = stanza.get("Source", name).split(" ", 1)[0]
    return DebPackage(
        name=name,
        source=source,
        version=version,
        section=section.rsplit("/", 1)[-1],  # "contrib/games" -> "games"
        architecture=stanza.get("Architecture", ""),
        installed_size_kib=int(size) if size.isdigit() else None,
        depends=parse_depends(stanza.get("Depends", "")),
        description=description,
        homepage=stanza.get("Homepage") or None,
        filename=stanza.get("Filename", ""),
    )


def load_packages(path: Path | None = None) -> tuple[list[DebPackage], str]:
    """Every package of ``path`` (a Packages/status file) or of ``apt-cache dumpavail``, sorted by name.

    Returns the packages and a line naming the source. Raises ``RuntimeError`` with what to do
    when neither is available.
    """
    if path is not None:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
        where = str(path)
    else:
        if shutil.which("apt-cache") is None:
            raise RuntimeError("apt-cache is not available: pass --packages PATH (a Debian Packages file).")
        run = subprocess.run(["apt-cache", "dumpavail"], capture_output=True, text=True, errors="replace", check=False)
        if run.returncode != 0 or not run.stdout.strip():
            raise RuntimeError(f"`apt-cache dumpavail` gave nothing ({run.stderr.strip()[:200]}); run `apt-get update` first.")
        text, where = run.stdout, "apt-cache dumpavail (" + ", ".join(release_lines()) + ")"
    seen: dict[str, DebPackage] = {}
    for stanza in read_stanzas(text):
        package = to_package(stanza)
        if package is not None and package.name not in seen:
            seen[package.name] = package
    return sorted(seen.values(), key=lambda p: p.name), where


def release_lines() -> list[str]:
    """Which archives the apt lists hold (suite and date of each Release file), for the record."""
    lines = []
    for release in sorted(Path("/var/lib/apt/lists").glob("*_InRelease")):
        fields = {}
        for line in release.read_text(encoding="utf-8", errors="replace").splitlines()[:30]:
            key, _, value = line.partition(":")
            if key in ("Origin", "Suite", "Date"):
                fields[key] = value.strip()
        if fields:
            lines.append(f"{fields.get('Origin', '?')} {fields.get('Suite', '?')} of {fields.get('Date', '?')}")
    return lines


def add_packages_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--packages", type=Path, default=None,
                        help="a Debian Packages (or dpkg status) file instead of apt-cache dumpavail")


def packages_for(ns: argparse.Namespace, limit: int | None) -> tuple[list[DebPackage], str]:
    """The packages a builder's options name (``--packages`` or apt), the first ``limit`` of them."""
    packages, source = load_packages(ns.packages)
    return (packages[:limit] if limit else packages), source
