"""Group-aware, seeded, frozen splits: reproducible, no group in two parts, tamper-evident."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.errors import DataError, WorkspaceError
from studies.data.datasets import LoadedDataset, Pair, content_hash, load_pairs
from studies.data.splits import PARTS, load_split, make_split, save_split
from studies.data.validation import ValidationReport


def dataset_of(pairs: list[Pair], name: str = "synthetic") -> LoadedDataset:
    report = ValidationReport("memory", "jsonl", records=len(pairs), valid=len(pairs))
    return LoadedDataset(name, pairs, report, content_hash(pairs), "memory")


def assert_group_disjoint(split) -> None:
    groups = {name: split.groups(name) for name in PARTS}
    assert not groups["train"] & groups["validation"]
    assert not groups["train"] & groups["test"]
    assert not groups["validation"] & groups["test"]


@st.composite
def pair_lists(draw):
    n = draw(st.integers(min_value=3, max_value=120))
    n_groups = draw(st.integers(min_value=1, max_value=40))
    groups = draw(st.lists(st.one_of(st.none(), st.integers(0, n_groups - 1).map(lambda g: f"g{g}")), min_size=n, max_size=n))
    pairs = [Pair(str(i), f"in {i}", f"out {i}", g) for i, g in enumerate(groups)]
    if len({p.group_key for p in pairs}) < 3:
        pairs += [Pair(f"extra{i}", f"x{i}", f"y{i}", None) for i in range(3)]
    return pairs


fractions_st = st.sampled_from([(0.8, 0.1, 0.1), (0.6, 0.2, 0.2), (0.5, 0.0, 0.5), (0.34, 0.33, 0.33)])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pairs=pair_lists(), seed=st.integers(0, 2**31), fractions=fractions_st)
def test_random_data_no_group_crosses_parts_and_nothing_is_lost(pairs, seed, fractions):
    split = make_split(dataset_of(pairs), seed=seed, fractions=fractions)
    assert_group_disjoint(split)
    got = sorted(p.id for name in PARTS for p in split.part(name))
    assert got == sorted(p.id for p in pairs)
    for i, name in enumerate(PARTS):
        if fractions[i] > 0:
            assert split.part(name), f"{name} is empty"
        else:
            assert not split.part(name)
    again = make_split(dataset_of(list(reversed(pairs))), seed=seed, fractions=fractions)
    assert {n: sorted(p.id for p in again.part(n)) for n in PARTS} == {n: sorted(p.id for p in split.part(n)) for n in PARTS}


@settings(max_examples=25, deadline=None)
@given(pairs=pair_lists(), seed=st.integers(0, 1000))
def test_same_seed_same_version(pairs, seed):
    a = make_split(dataset_of(pairs), seed=seed)
    b = make_split(dataset_of(list(pairs)), seed=seed)
    assert a.version == b.version and a.split_hash == b.split_hash


def test_sample_split_is_reproducible_balanced_and_seed_dependent(sample_pairs):
    d = load_pairs(sample_pairs)
    a, b = make_split(d, seed=7), make_split(d, seed=7)
    assert a.version == b.version and len(a.version) == 16
    assert_group_disjoint(a)
    counts = a.counts()
    assert sum(counts.values()) == 684
    # Within one group (max 8 pairs) of the target share.
    for name, frac in zip(PARTS, (0.8, 0.1, 0.1)):
        assert abs(counts[name] - frac * 684) <= 8 + 1
    assert make_split(d, seed=8).version != a.version


def test_save_and_load_round_trip(workspace, sample_pairs):
    d = load_pairs(sample_pairs)
    split = make_split(d, seed=1, fractions=(0.7, 0.15, 0.15))
    path = save_split(workspace, split)
    assert path == workspace.root / "splits" / split.version
    manifest = json.loads((path / "manifest.json").read_text())
    assert manifest["dataset_hash"] == d.content_hash and manifest["seed"] == 1
    assert manifest["fractions"] == {"train": 0.7, "validation": 0.15, "test": 0.15}
    assert manifest["counts"] == split.counts()
    assert sorted(manifest["groups"]["test"]) == sorted(split.groups("test"))
    loaded = load_split(workspace, split.version)
    assert loaded.version == split.version and loaded.dataset_hash == d.content_hash
    assert loaded.train == split.train and loaded.test == split.test
    assert loaded.test[0].meta.get("page") == loaded.test[0].group
    assert load_split(workspace, split.version[:8]).version == split.version
    assert save_split(workspace, split) == path  # idempotent
    assert not [p for p in (workspace.root / "splits").iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize("target", ["test.jsonl", "manifest-groups", "manifest-version"])
def test_tampered_split_is_refused(workspace, sample_pairs, target):
    split = make_split(load_pairs(sample_pairs), seed=2)
    path = save_split(workspace, split)
    if target == "test.jsonl":
        with open(path / "test.jsonl", "a", encoding="utf-8") as handle:
            handle.write(json.dumps({"id": "sneaky", "input": "a", "output": "b", "group": None, "meta": {}}) + "\n")
    else:
        manifest = json.loads((path / "manifest.json").read_text())
        if target == "manifest-groups":
            manifest["groups"]["test"] = manifest["groups"]["test"][1:]
        else:
            manifest["split_hash"] = "0" * 64
        (path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(WorkspaceError, match="re-create"):
        load_split(workspace, split.version)


def test_unknown_split_and_bad_arguments(workspace, sample_pairs):
    with pytest.raises(WorkspaceError, match="not in this workspace"):
        load_split(workspace, "0123456789abcdef")
    with pytest.raises(WorkspaceError):
        load_split(workspace, "../etc")
    d = load_pairs(sample_pairs)
    with pytest.raises(DataError, match="sum to 1"):
        make_split(d, seed=0, fractions=(0.8, 0.1, 0.2))
    with pytest.raises(DataError, match="train and test"):
        make_split(d, seed=0, fractions=(1.0, 0.0, 0.0))
    with pytest.raises(DataError, match="integer"):
        make_split(d, seed="1")  # type: ignore[arg-type]
    tiny = dataset_of([Pair("1", "a", "b", "g"), Pair("2", "c", "d", "g")])
    with pytest.raises(DataError, match="1 group"):
        make_split(tiny, seed=0)
