"""Frozen, versioned, group-aware train/validation/test splits.

- Group-aware: all pairs of a group land in the same part (a pair without a group is a group
  of its own), so near-identical examples of one tldr page never sit on both sides.
- Deterministic: groups are ordered by ``sha256(seed, group)``, then each goes to the part
  furthest below its target share. The file order of the data set does not matter.
- Frozen: ``<ws>/splits/<version>/`` holds ``train.jsonl``, ``validation.jsonl``, ``test.jsonl``
  and ``manifest.json``, written atomically. The version is a content hash of the three parts,
  so every later result names the exact data it used; :func:`load_split` checks the files
  against the manifest and refuses tampered ones.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.atomic import atomic_directory
from core.errors import DataError, WorkspaceError
from core.workspace import Workspace
from studies.data.datasets import LoadedDataset, Pair
from studies.data.kinds import TaskSpec, infer_task

PARTS = ("train", "validation", "test")
DEFAULT_FRACTIONS = (0.8, 0.1, 0.1)
MANIFEST = "manifest.json"
FORMAT_VERSION = 2
VERSION_CHARS = 16


@dataclass
class FrozenSplit:
    """A train/validation/test split of one data set version, identified by its own content hash."""

    version: str
    """Content hash of the three parts (first 16 hex characters of ``split_hash``)."""
    dataset_name: str
    """Name of the data set it was made from."""
    dataset_hash: str
    """Content hash (version) of that data set."""
    seed: int
    """Seed that ordered the groups."""
    train: list[Pair]
    """Pairs to train on."""
    validation: list[Pair]
    """Pairs for early stopping and hyper-parameter search."""
    test: list[Pair]
    """Held-out pairs for the final comparison; never trained or tuned on."""
    fractions: tuple[float, float, float] = DEFAULT_FRACTIONS
    """Target shares of pairs (train, validation, test); actual shares differ by at most a group."""
    split_hash: str = ""
    """Full sha256 of the parts (the version is its prefix)."""
    task: TaskSpec | None = None
    """The task kind (inferred from the train part unless given); recorded in the manifest, not in the version."""

    def __post_init__(self) -> None:
        if self.task is None and self.train:
            self.task = infer_task([p.output for p in self.train])

    @property
    def unreviewed(self) -> int:
        """Generated pairs nobody reviewed, split anyway on the user's explicit override (0: all reviewed).
        Read from the pairs themselves, so a loaded split can never disagree with its files."""
        return unreviewed(self.train + self.validation + self.test)

    def part(self, name: str) -> list[Pair]:
        if name not in PARTS:
            raise DataError(f"Unknown split part {name!r}; expected one of {', '.join(PARTS)}.")
        return getattr(self, name)

    def groups(self, part_name: str) -> set[str]:
        """Groups (``Pair.group_key``) in one part."""
        return {p.group_key for p in self.part(part_name)}

    def counts(self) -> dict[str, int]:
        return {name: len(self.part(name)) for name in PARTS}

    def manifest(self) -> dict[str, Any]:
        """What ``manifest.json`` records (without the file hashes and the time)."""
        return {
            "format_version": FORMAT_VERSION,
            "version": self.version,
            "split_hash": self.split_hash,
            "dataset_name": self.dataset_name,
            "dataset_hash": self.dataset_hash,
            "seed": self.seed,
            "fractions": dict(zip(PARTS, self.fractions)),
            "counts": self.counts(),
            "group_counts": {name: len(self.groups(name)) for name in PARTS},
            "groups": {name: sorted(self.groups(name)) for name in PARTS},
            "shared_inputs": shared_inputs(self),
            "unreviewed_override": self.unreviewed,
            "task": self.task.to_dict() if self.task is not None else None,
        }


def check_fractions(fractions: tuple[float, ...] | list[float]) -> tuple[float, float, float]:
    """Three non-negative shares summing to 1, train and test above 0; the error states the rule."""
    values = tuple(float(f) for f in fractions)
    if len(values) != 3:
        raise DataError(f"Split fractions must be three numbers (train, validation, test), but got {values}.")
    if any(not math.isfinite(f) or f < 0 for f in values):
        raise DataError(f"Split fractions must be finite and >= 0, but got {values}.")
    if abs(sum(values) - 1.0) > 1e-6:
        raise DataError(f"Split fractions must sum to 1, but got {values} (sum {sum(values):g}).")
    if values[0] <= 0 or values[2] <= 0:
        raise DataError(f"The train and test fractions must be > 0, but got {values}.")
    return values  # type: ignore[return-value]


def _order_key(seed: int, group: str) -> str:
    return hashlib.sha256(f"{seed}\x00{group}".encode("utf-8")).hexdigest()


def assign_groups(sizes: dict[str, int], seed: int, fractions: tuple[float, float, float]) -> dict[str, str]:
    """Map each group to a part: seeded hash order, each group to the part furthest below target."""
    active = [i for i, f in enumerate(fractions) if f > 0]
    if len(sizes) < len(active):
        raise DataError(
            f"The data set has {len(sizes)} group(s) but the split needs at least {len(active)} "
            f"(one per non-empty part of {fractions}). Add data, or set the validation fraction to 0."
        )
    total = sum(sizes.values())
    targets = [f * total for f in fractions]
    filled = [0, 0, 0]
    assignment: dict[str, str] = {}
    for group in sorted(sizes, key=lambda g: _order_key(seed, g)):
        empty = [i for i in active if filled[i] == 0]
        if empty and len(assignment) >= len(sizes) - len(empty):
            choice = empty[0]  # the last groups go where nothing is yet, so no part stays empty
        else:
            choice = min(active, key=lambda i: (filled[i] / targets[i], i))
        filled[choice] += sizes[group]
        assignment[group] = PARTS[choice]
    return assignment


def unreviewed(pairs: list[Pair]) -> int:
    """Pairs marked as generated and not yet reviewed by a person (``review: unreviewed``)."""
    return sum(1 for p in pairs if str(p.meta.get("review", "")).lower() == "unreviewed")


def make_split(
    dataset: LoadedDataset,
    seed: int = 0,
    fractions: tuple[float, float, float] | list[float] = DEFAULT_FRACTIONS,
    allow_unreviewed: bool = False,
    task: TaskSpec | None = None,
) -> FrozenSplit:
    """Split a data set by group, deterministically for a given seed; no group is in two parts.

    Generated pairs that no person reviewed are refused (training and the frozen test split must
    rest on reviewed data) unless ``allow_unreviewed``; the override is recorded in the manifest.
    ``task`` (default: inferred from the train part) is recorded in the manifest; it does not
    change the split version, so the same data split with another task kind is the same split.
    """
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise DataError(f"The split seed must be an integer, but got {seed!r}.")
    fractions = check_fractions(fractions)
    if not dataset.report.ok:
        raise DataError(f"{dataset.source} has validation errors; fix them before splitting (`advisor data check`).")
    pending = unreviewed(dataset.pairs)
    if pending and not allow_unreviewed:
        raise DataError(
            f"{dataset.source} holds {pending} generated pair(s) that nobody reviewed. Review them first (app: Create data; "
            "CLI: `advisor data review`), or pass --allow-unreviewed to split anyway (recorded on every result that uses it)."
        )
    sizes: dict[str, int] = {}
    for pair in dataset.pairs:
        sizes[pair.group_key] = sizes.get(pair.group_key, 0) + 1
    assignment = assign_groups(sizes, seed, fractions)
    parts: dict[str, list[Pair]] = {name: [] for name in PARTS}
    for pair in dataset.pairs:
        parts[assignment[pair.group_key]].append(pair)
    split_hash = parts_hash({name: part_bytes(parts[name]) for name in PARTS})
    return FrozenSplit(
        version=split_hash[:VERSION_CHARS],
        dataset_name=dataset.name,
        dataset_hash=dataset.content_hash,
        seed=seed,
        train=parts["train"],
        validation=parts["validation"],
        test=parts["test"],
        fractions=fractions,
        split_hash=split_hash,
        task=task,
    )


def part_bytes(pairs: list[Pair]) -> bytes:
    """Canonical JSONL of one part (what is written to disk and hashed)."""
    return "".join(
        json.dumps(_stored(p), ensure_ascii=False, sort_keys=True, separators=(",", ":")) + "\n" for p in pairs
    ).encode("utf-8")


def _stored(pair: Pair) -> dict[str, Any]:
    data = pair.to_dict()
    data["meta"] = {k: v for k, v in pair.meta.items() if k not in ("line", "file")}
    return data


def parts_hash(blobs: dict[str, bytes]) -> str:
    digest = hashlib.sha256()
    for name in PARTS:
        digest.update(f"{name}\n{hashlib.sha256(blobs[name]).hexdigest()}\n".encode("ascii"))
    return digest.hexdigest()


def shared_inputs(split: FrozenSplit) -> int:
    """Inputs (normalised text) found in more than one part: duplicates across groups that the split cannot separate."""
    seen: dict[str, set[str]] = {}
    for name in PARTS:
        for pair in split.part(name):
            seen.setdefault(" ".join(pair.input.split()).lower(), set()).add(name)
    return sum(1 for parts in seen.values() if len(parts) > 1)


_IDENTITY_KEYS = ("version", "split_hash", "dataset_name", "dataset_hash", "seed", "fractions", "groups")


def identity_hash(manifest: dict[str, Any]) -> str:
    """sha256 of what a manifest says about its split beyond the files (data set, seed, fractions, groups):
    recorded at save time, so an edited seed or data set name fails the integrity check like an edited file."""
    picked = {k: manifest.get(k) for k in _IDENTITY_KEYS}
    return hashlib.sha256(json.dumps(picked, sort_keys=True, ensure_ascii=False, default=str).encode("utf-8")).hexdigest()


def read_manifest(folder: Path) -> dict[str, Any]:
    """A split's manifest.json, checked for shape and for edits; WorkspaceError names the file and the fix."""
    path = folder / MANIFEST
    fix = f"Delete {folder} and re-create the split with `advisor data split FILE --seed N`."
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:
        raise WorkspaceError(f"Split manifest {path} is missing or unreadable ({exc}). {fix}") from exc
    if not isinstance(manifest, dict):
        raise WorkspaceError(f"Split manifest {path} is not a JSON object. {fix}")
    problems = []
    if not isinstance(manifest.get("files"), dict):
        problems.append("`files` is not a mapping of file -> sha256")
    if isinstance(manifest.get("seed"), bool) or not isinstance(manifest.get("seed"), int):
        problems.append(f"`seed` is not an integer ({manifest.get('seed')!r})")
    fractions = manifest.get("fractions")
    if not isinstance(fractions, dict) or any(isinstance(fractions.get(n), bool) or not isinstance(fractions.get(n), (int, float)) for n in PARTS):
        problems.append(f"`fractions` is not a mapping of part -> number ({fractions!r})")
    if not isinstance(manifest.get("groups"), dict):
        problems.append("`groups` is not a mapping of part -> group names")
    for key in ("version", "split_hash", "dataset_name", "dataset_hash"):
        if not isinstance(manifest.get(key), str):
            problems.append(f"`{key}` is not a string")
    if not problems and manifest.get("identity_sha256") != identity_hash(manifest):
        problems.append("its data set, seed, fractions or groups were edited after the split was made"
                        if manifest.get("identity_sha256") else "it records no identity checksum (made by an older version)")
    if problems:
        raise WorkspaceError(f"Split manifest {path} failed its integrity check: {'; '.join(problems)}. {fix}")
    return manifest


def save_split(workspace: Workspace, split: FrozenSplit) -> Path:
    """Write the split to ``<ws>/splits/<version>/`` atomically; an existing identical split is kept."""
    target = workspace.path("splits", split.version)
    if target.exists():
        try:
            stored = load_split(workspace, split.version)
        except WorkspaceError:
            pass  # damaged copy: rewrite it
        else:
            if split.task is not None and stored.task != split.task:
                _write_task(target, split.task)  # the task is metadata of the split, not part of its content
            return target
    blobs = {name: part_bytes(split.part(name)) for name in PARTS}
    manifest = split.manifest()
    manifest["files"] = {f"{name}.jsonl": hashlib.sha256(blobs[name]).hexdigest() for name in PARTS}
    manifest["created_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    manifest["identity_sha256"] = identity_hash(manifest)
    with atomic_directory(target) as tmp:
        for name in PARTS:
            (tmp / f"{name}.jsonl").write_bytes(blobs[name])
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
    return target


def _write_task(folder: Path, task: TaskSpec) -> None:
    from core.atomic import atomic_write_text

    manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    manifest["task"] = task.to_dict()
    atomic_write_text(folder / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


def list_splits(workspace: Workspace) -> list[dict[str, Any]]:
    """Manifests of the saved splits (their files are verified by :func:`load_split`).

    A damaged manifest is never skipped in silence: the error names every such file and the fix.
    """
    out, damaged = [], []
    for name in workspace.names("splits"):
        try:
            manifest = read_manifest(workspace.dir("splits") / name)
        except WorkspaceError as exc:
            damaged.append(str(exc))
            continue
        item = {k: manifest.get(k) for k in ("version", "dataset_name", "dataset_hash", "seed", "counts", "created_at")}
        item["task"] = (manifest.get("task") or {}).get("kind")
        out.append(item)
    if damaged:
        raise WorkspaceError("\n".join(damaged))
    return out


def resolve_version(workspace: Workspace, version: str) -> str:
    """A full version, or a unique prefix of one (at least 6 characters)."""
    names = workspace.names("splits")
    if version in names:
        return version
    matches = [n for n in names if len(version) >= 6 and n.startswith(version)]
    if len(matches) == 1:
        return matches[0]
    known = ", ".join(names) or "none yet; run `advisor data split FILE --seed N`"
    what = "is ambiguous" if matches else "is not in this workspace"
    raise WorkspaceError(f"Split {version!r} {what}. Known splits: {known}.")


def load_split(workspace: Workspace, version: str) -> FrozenSplit:
    """Load a frozen split, checking every file against the manifest; tampering raises WorkspaceError."""
    version = resolve_version(workspace, version)
    folder = workspace.path("splits", version)
    manifest = read_manifest(folder)
    problems: list[str] = []
    blobs: dict[str, bytes] = {}
    files = manifest["files"]
    for name in PARTS:
        path = folder / f"{name}.jsonl"
        try:
            blobs[name] = path.read_bytes()
        except OSError:
            problems.append(f"{path.name} is missing")
            continue
        if hashlib.sha256(blobs[name]).hexdigest() != files.get(path.name):
            problems.append(f"{path.name} does not match its sha256 in manifest.json (the file was changed)")
    if not problems:
        split_hash = parts_hash(blobs)
        if split_hash != manifest.get("split_hash") or split_hash[:VERSION_CHARS] != version or manifest.get("version") != version:
            problems.append("the files do not hash to the split's version (the manifest or folder name was changed)")
    if problems:
        raise WorkspaceError(
            f"Split {version} in {folder} failed its integrity check: " + "; ".join(problems) + ". "
            "A frozen split must not be edited: delete the folder and re-create it with `advisor data split`."
        )
    parts = {name: [Pair.from_dict(json.loads(line)) for line in blobs[name].decode("utf-8").splitlines() if line] for name in PARTS}
    fractions = manifest.get("fractions") or {}
    split = FrozenSplit(
        version=version,
        dataset_name=str(manifest.get("dataset_name", "")),
        dataset_hash=str(manifest.get("dataset_hash", "")),
        seed=int(manifest.get("seed", 0)),
        train=parts["train"],
        validation=parts["validation"],
        test=parts["test"],
        fractions=tuple(float(fractions.get(n, d)) for n, d in zip(PARTS, DEFAULT_FRACTIONS)),  # type: ignore[arg-type]
        split_hash=manifest["split_hash"],
        task=TaskSpec.from_dict(manifest["task"]) if isinstance(manifest.get("task"), dict) else None,
    )
    recorded = manifest.get("groups") or {}
    if any(sorted(split.groups(n)) != list(recorded.get(n, [])) for n in PARTS):
        raise WorkspaceError(
            f"Split {version}: the group lists in manifest.json do not match the files (the manifest was edited). "
            "Delete the folder and re-create the split with `advisor data split`."
        )
    return split

