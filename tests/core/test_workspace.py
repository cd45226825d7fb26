"""The workspace refuses names that escape it; atomic writes never leave a half-written artifact."""

from __future__ import annotations

import json
import os

import pytest

from core.atomic import atomic_directory, atomic_write_bytes, atomic_write_json, atomic_write_text
from core.errors import WorkspaceError
from core.workspace import ENV_VAR, KINDS, Workspace, safe_name, slugify

UNSAFE = ["..", ".", "", "../x", "a/b", "a\\b", "/etc/passwd", "/abs", "nul\x00byte", ".hidden", "-flag", "x" * 129, "tab\tname", "new\nline", "trailing\n"]


@pytest.mark.parametrize("name", UNSAFE)
def test_unsafe_names_are_refused(workspace, name):
    with pytest.raises(WorkspaceError):
        safe_name(name)
    with pytest.raises(WorkspaceError):
        workspace.path("datasets", name)
    with pytest.raises(WorkspaceError):
        workspace.path("datasets", "ok", name)


@pytest.mark.parametrize("name", ["tldr-rag", "a", "v1.2_final+lora", "0abc", "x" * 128])
def test_safe_names_resolve_inside(workspace, name):
    path = workspace.path("indexes", name)
    assert path == workspace.root / "indexes" / name
    assert workspace.root in path.parents


def test_symlink_escape_is_refused(workspace, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (workspace.dir("datasets") / "link").symlink_to(outside)
    with pytest.raises(WorkspaceError, match="outside the workspace"):
        workspace.path("datasets", "link")
    with pytest.raises(WorkspaceError):
        workspace.contain("/etc")


def test_unknown_kind_and_root_resolution(tmp_path, monkeypatch):
    ws = Workspace.resolve(tmp_path / "w").ensure()
    with pytest.raises(WorkspaceError, match="Unknown workspace area"):
        ws.dir("nonsense")
    assert set(KINDS) >= {"datasets", "splits", "indexes", "adapters"}
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "from-env"))
    assert Workspace.resolve(None).root == (tmp_path / "from-env").resolve()
    assert Workspace.resolve(tmp_path / "arg").root == (tmp_path / "arg").resolve()
    monkeypatch.delenv(ENV_VAR)
    monkeypatch.chdir(tmp_path)
    assert Workspace.resolve().root == (tmp_path / "workspace").resolve()
    afile = tmp_path / "file"
    afile.write_text("x")
    with pytest.raises(WorkspaceError, match="not a folder"):
        Workspace.resolve(afile)


def test_names_lists_artifacts_without_temporaries(workspace):
    (workspace.dir("runs") / "b").mkdir()
    (workspace.dir("runs") / "a").mkdir()
    (workspace.dir("runs") / ".a.tmp").mkdir()
    assert workspace.names("runs") == ["a", "b"]


def test_slugify_never_raises_and_is_safe():
    for text in ["My Data Set (v2).csv", "../../etc", "", "///", "日本語", "a" * 500]:
        slug = slugify(text)
        assert safe_name(slug) == slug


def test_atomic_writes(tmp_path):
    target = tmp_path / "sub" / "f.json"
    atomic_write_json(target, {"b": 1, "a": [1, 2]})
    assert json.loads(target.read_text()) == {"a": [1, 2], "b": 1}
    atomic_write_text(target, "new")
    assert target.read_text() == "new"
    atomic_write_bytes(target, b"\x00\x01")
    assert target.read_bytes() == b"\x00\x01"
    assert sorted(p.name for p in target.parent.iterdir()) == ["f.json"]


def test_failed_atomic_write_keeps_old_file(tmp_path):
    target = tmp_path / "f.txt"
    atomic_write_text(target, "old")

    class Unserialisable:
        def __str__(self):
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        atomic_write_json(target, {"x": Unserialisable()})
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.txt"]


def test_atomic_directory_replaces_in_one_step(tmp_path):
    target = tmp_path / "index"
    with atomic_directory(target) as tmp:
        (tmp / "a.txt").write_text("v1")
        assert not target.exists()
    assert (target / "a.txt").read_text() == "v1"
    with atomic_directory(target) as tmp:
        (tmp / "b.txt").write_text("v2")
        assert (target / "a.txt").read_text() == "v1"  # old content visible until the swap
    assert sorted(os.listdir(target)) == ["b.txt"]
    assert sorted(os.listdir(tmp_path)) == ["index"]


def test_failing_write_inside_atomic_directory_leaves_old_folder_intact(tmp_path):
    target = tmp_path / "adapter"
    with atomic_directory(target) as tmp:
        (tmp / "weights.bin").write_bytes(b"old")
    with pytest.raises(OSError):
        with atomic_directory(target) as tmp:
            (tmp / "weights.bin").write_bytes(b"new, half-written")
            raise OSError("disk full")
    assert (target / "weights.bin").read_bytes() == b"old"
    assert sorted(os.listdir(target)) == ["weights.bin"]
    assert sorted(os.listdir(tmp_path)) == ["adapter"]  # the temporary folder is gone
    with pytest.raises(KeyboardInterrupt):
        with atomic_directory(tmp_path / "fresh") as tmp:
            (tmp / "x").write_text("partial")
            raise KeyboardInterrupt
    assert not (tmp_path / "fresh").exists()


def test_temporaries_of_dead_writers_are_removed_on_the_next_write(tmp_path):
    """A writer killed mid-write leaves a hidden temporary; the next write of that target removes it."""
    import subprocess
    import sys

    from core.atomic import _temp_prefix, atomic_directory, atomic_write_text

    target = tmp_path / "index"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True)
    pid = int(dead.stdout)
    stale_dir = tmp_path / _temp_prefix(target).replace(f"-{os.getpid()}.", f"-{pid}.")
    stale_dir = stale_dir.with_name(stale_dir.name + "abc.tmp")
    stale_dir.mkdir()
    (stale_dir / "half.bin").write_bytes(b"\0" * 10)
    mine = tmp_path / (_temp_prefix(target) + "live.tmp")  # this process's own (still running) write
    mine.mkdir()
    with atomic_directory(target) as folder:
        (folder / "x").write_text("1")
    assert not stale_dir.exists() and mine.exists() and (target / "x").read_text() == "1"

    note = tmp_path / "note.txt"
    stale_file = tmp_path / (_temp_prefix(note).replace(f"-{os.getpid()}.", f"-{pid}.") + "zz.tmp")
    stale_file.write_text("half")
    atomic_write_text(note, "done")
    assert not stale_file.exists() and note.read_text() == "done"


def test_disk_full_is_a_workspace_error_and_keeps_the_old_file(tmp_path, monkeypatch):
    import errno

    from core.atomic import atomic_write_text
    from core.errors import WorkspaceError

    path = tmp_path / "record.json"
    atomic_write_text(path, "old")

    def full(_fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(WorkspaceError, match="No space left on device.*previous content is intact.*Free disk space"):
        atomic_write_text(path, "new")
    monkeypatch.undo()
    assert path.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["record.json"]
