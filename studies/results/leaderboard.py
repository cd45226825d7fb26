"""The DuckDB leaderboard: short-lived connections with process-level locking, writes, queries, export."""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.errors import LeaderboardError
from core.workspace import KINDS, Workspace
from studies.results.locking import (
    ALIAS,
    HUB,
    HUB_LOCK,
    LOCK_TIMEOUT_S,
    damaged_error,
    hub_connection,
    is_damage,
    is_lock_conflict,
    process_lock,
)
from studies.results.records import (
    COST_COLUMNS,
    MEMORY,
    STATUSES,
    RunRecord,
    require_who_and_why,
    utc_now,
)
from studies.results.schema import (
    JSON_COLUMNS,
    RUN_COLUMNS,
    add_metric_columns,
    metric_columns,
    migrate,
    transaction,
)

if TYPE_CHECKING:  # pragma: no cover
    import duckdb


_BATCH = 200



class Leaderboard:
    """The runs of one workspace (or an in-memory board for tests: ``Leaderboard(":memory:")``).

    Every method opens a short-lived connection (retried on lock conflicts) and closes it, so
    any number of processes can share the file; the in-memory board keeps one connection.
    """

    def __init__(self, where: Workspace | str | os.PathLike[str] = MEMORY, lock_timeout_s: float | None = None) -> None:
        if isinstance(where, Workspace):
            self.path: str = str(where.leaderboard_path)
        else:
            self.path = str(where) if str(where) == MEMORY else str(Path(where).expanduser().resolve())
        self.lock_timeout_s = LOCK_TIMEOUT_S if lock_timeout_s is None else lock_timeout_s
        self._memory_con = None
        self._lock = process_lock(self.path if self.path != MEMORY else f"mem-{id(self)}")
        self._ready = False
        self.retries = 0
        """Lock conflicts waited out by this object (for tests and diagnostics)."""

    @property
    def in_memory(self) -> bool:
        return self.path == MEMORY

    # -- connections ----------------------------------------------------------------------------
    def _open(self, read_only: bool) -> "duckdb.DuckDBPyConnection":
        """Attach the file to this process's hub connection (retried while another process holds it).

        Attaching to a long-lived in-memory DuckDB instance costs ~2 ms of CPU where a fresh
        ``duckdb.connect`` costs ~25 ms; ``DETACH`` releases the file lock just the same.
        """
        import duckdb

        hub = hub_connection()
        deadline = time.monotonic() + self.lock_timeout_s
        delay = 0.005
        quoted = "'" + self.path.replace("'", "''") + "'"
        hub.execute("USE memory")
        hub.execute(f"DETACH DATABASE IF EXISTS {ALIAS}")  # left over by an interrupted call
        while True:
            try:
                hub.execute(f"ATTACH {quoted} AS {ALIAS} ({'READ_ONLY' if read_only else 'READ_WRITE'})")
                hub.execute(f"USE {ALIAS}")
                return hub
            except (duckdb.IOException, duckdb.ConnectionException, duckdb.BinderException) as exc:
                if not is_lock_conflict(exc):
                    raise damaged_error(self.path, exc) from exc
                if time.monotonic() >= deadline:
                    raise LeaderboardError(
                        f"The leaderboard {self.path} stayed locked by another process for {self.lock_timeout_s:.0f} s "
                        f"({exc}). Something holds it open: close other DuckDB clients of this file and retry."
                    ) from exc
                self.retries += 1
                time.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, 0.25)

    @staticmethod
    def _release(hub: "duckdb.DuckDBPyConnection") -> None:
        """Detach the file (releasing its lock); a transaction left open is rolled back first."""
        import duckdb

        try:
            hub.execute("ROLLBACK")
        except duckdb.Error:
            pass
        hub.execute("USE memory")
        hub.execute(f"DETACH {ALIAS}")

    @contextmanager
    def _turn(self) -> Iterator[None]:
        """Wait for this process's turn at the file: an advisory lock on ``<file>.lock``.

        DuckDB's own lock fails at once instead of waiting, so polling it lets a busy reader
        starve writers. Every process of this package first takes this cheap lock (polled
        every few milliseconds), then opens DuckDB; foreign clients (the DuckDB CLI) are still
        covered by the retry loop in :meth:`_open`.
        """
        try:
            import fcntl
        except ImportError:  # pragma: no cover - non-POSIX: rely on the retry loop alone
            yield
            return
        fd = os.open(self.path + ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            deadline = time.monotonic() + self.lock_timeout_s
            delay = 0.001
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise LeaderboardError(
                            f"Waited {self.lock_timeout_s:.0f} s for the leaderboard {self.path}; another process keeps it busy. "
                            "Retry, or look for a stuck `advisor` process."
                        ) from None
                    time.sleep(delay * (0.5 + random.random()))
                    delay = min(delay * 2, 0.02)
            yield
        finally:
            os.close(fd)  # releases the lock

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator["duckdb.DuckDBPyConnection"]:
        """A connection to the migrated database, closed (lock released) when the block ends."""
        with self._lock:
            if self.in_memory:
                if self._memory_con is None:
                    import duckdb

                    self._memory_con = duckdb.connect(MEMORY)
                    migrate(self._memory_con)
                yield self._memory_con
                return
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            with HUB_LOCK, self._turn():
                try:
                    if not self._ready:
                        self._ensure_schema()
                    con = self._open(read_only)
                    try:
                        yield con
                    finally:
                        self._release(con)
                except Exception as exc:
                    if not is_damage(exc):
                        raise
                    HUB.clear()  # DuckDB may have invalidated the instance: the next call starts a fresh one
                    raise damaged_error(self.path, exc) from exc

    def _ensure_schema(self) -> None:
        con = self._open(read_only=False)
        try:
            migrate(con)
        finally:
            self._release(con)
        self._ready = True

    def close(self) -> None:
        """Close the in-memory connection (file-backed boards hold nothing open)."""
        if self._memory_con is not None:
            self._memory_con.close()
            self._memory_con = None

    # -- writes ---------------------------------------------------------------------------------
    def record(self, run: RunRecord) -> bool:
        """Add one run; returns False (and changes nothing) when ``run_id`` is already there."""
        return self.ingest([run]) == 1

    def ingest(self, runs: Iterable[RunRecord | dict[str, Any]]) -> int:
        """Add many runs in one transaction, skipping run ids already present; returns how many were new."""
        items = [r if isinstance(r, RunRecord) else RunRecord.from_dict(r) for r in runs]
        if not items:
            return 0
        for run in items:
            if run.status not in STATUSES:
                raise LeaderboardError(f"Run {run.run_id}: status must be one of {STATUSES}, got {run.status!r}.")
        now = utc_now()
        seen: set[str] = set()
        unique = [self._portable(r) for r in items if not (r.run_id in seen or seen.add(r.run_id))]
        with self.connect() as con, transaction(con):
            names = sorted({name for run in unique for name in run.metrics})
            cols = add_metric_columns(con, names, metric_columns(con))
            added = 0
            for start in range(0, len(unique), _BATCH):
                added += self._insert(con, unique[start : start + _BATCH], now + timedelta(microseconds=start), cols)
        return added

    # -- paths: stored relative to the workspace, handed out absolute -----------------------------
    @property
    def root(self) -> Path | None:
        """The workspace folder (the board's own folder); None for an in-memory board."""
        return None if self.in_memory else Path(self.path).parent

    def _store_path(self, value: Any) -> Any:
        """A path inside the workspace as ``kind/name/...`` (a copied workspace stays self-contained)."""
        root = self.root
        if root is None or not isinstance(value, str) or not os.path.isabs(value):
            return value
        path = Path(value)
        for base in (root, root.resolve()):
            if path.is_relative_to(base):
                return path.relative_to(base).as_posix()
        return value

    def _load_path(self, value: Any) -> Any:
        """``kind/name/...`` back to a path in *this* workspace; absolute paths (older records) as they were."""
        root = self.root
        if root is None or not isinstance(value, str) or not value or os.path.isabs(value):
            return value
        first = value.split("/", 1)[0]
        return str(root / value) if first in KINDS and ".." not in value.split("/") else value

    def _portable(self, run: RunRecord) -> RunRecord:
        import dataclasses

        return dataclasses.replace(run, artifacts={k: self._store_path(v) for k, v in (run.artifacts or {}).items()},
                                   registry_path=self._store_path(run.registry_path))

    @staticmethod
    def _insert(con: "duckdb.DuckDBPyConnection", runs: list[RunRecord], now: datetime, cols: dict[str, str]) -> int:
        """Insert one batch in one statement (``ON CONFLICT DO NOTHING``); returns how many were new."""
        names = sorted({name for run in runs for name in run.metrics})
        metric_cols = [f"{cols[n]}{suffix}" for n in names for suffix in ("", "_low", "_high", "_n")]
        columns = list(RUN_COLUMNS) + metric_cols
        rows = []
        for i, run in enumerate(runs):
            row = Leaderboard._row(run, now + timedelta(microseconds=i))  # insertion order breaks ties
            for n in names:
                s = run.metrics.get(n)
                row += [float(s["mean"]), s.get("low"), s.get("high"), s.get("n")] if s else [None, None, None, None]
            rows.append(row)
        one = "(" + ", ".join("?" for _ in columns) + ")"
        inserted = con.execute(
            f"INSERT INTO runs ({', '.join(columns)}) VALUES {', '.join(one for _ in rows)} ON CONFLICT DO NOTHING RETURNING run_id",
            [v for row in rows for v in row],
        ).fetchall()
        return len(inserted)

    @staticmethod
    def _row(run: RunRecord, now: datetime) -> list[Any]:
        values = {
            **{k: getattr(run, k) for k in RUN_COLUMNS if hasattr(run, k)},
            "config_json": json.dumps(run.config, sort_keys=True, default=str),
            "skipped_json": json.dumps(run.skipped_metrics, sort_keys=True),
            "artifacts_json": json.dumps(run.artifacts, sort_keys=True, default=str),
            "environment_json": json.dumps(run.environment, sort_keys=True, default=str),
            "created_at": run.created_at or now,
            "updated_at": run.updated_at or run.created_at or now,
        }
        return [values.get(col) for col in RUN_COLUMNS]

    def set_metric(self, run_id: str, name: str, score: dict[str, Any] | None) -> bool:
        """Store one metric's ``{"mean", "low", "high", "n"}`` on a run already on the board (None clears it):
        a metric computed after the evaluation, such as a judge's. False when the run is not on the board."""
        with self.connect() as con, transaction(con):
            if not con.execute("SELECT count(*) FROM runs WHERE run_id = ?", [run_id]).fetchone()[0]:
                return False
            col = add_metric_columns(con, [name], metric_columns(con))[name]
            values = [None] * 4 if score is None else [float(score["mean"]), score.get("low"), score.get("high"), score.get("n")]
            con.execute(f"UPDATE runs SET {col} = ?, {col}_low = ?, {col}_high = ?, {col}_n = ?, updated_at = ? WHERE run_id = ?",
                        [*values, utc_now(), run_id])
        return True

    def has_trial(self, study: str, trial: int) -> bool:
        """True when a run of this (study, trial) is on the board."""
        with self.connect(read_only=True) as con:
            return bool(con.execute("SELECT count(*) FROM runs WHERE study = ? AND trial = ?", [study, int(trial)]).fetchone()[0])

    def set_status(self, run_id: str, status: str, by: str, reason: str, registry_path: str | None = None) -> dict[str, Any]:
        """Mark a run accepted/rejected/candidate, by whom and why (history kept in ``reviews``)."""
        if status not in STATUSES:
            raise LeaderboardError(f"status must be one of {', '.join(STATUSES)}, got {status!r}.")
        require_who_and_why(by, reason)
        now = utc_now()
        with self.connect() as con, transaction(con):
            found = con.execute("SELECT count(*) FROM runs WHERE run_id = ?", [run_id]).fetchone()[0]
            if not found:
                raise LeaderboardError(f"No run {run_id!r} on the leaderboard; `advisor leaderboard` lists the runs.")
            con.execute(
                "UPDATE runs SET status = ?, status_by = ?, status_reason = ?, status_at = ?, updated_at = ?, "
                "registry_path = coalesce(?, registry_path) WHERE run_id = ?",
                [status, by.strip(), reason.strip(), now, now, self._store_path(registry_path), run_id],
            )
            con.execute("INSERT INTO reviews VALUES (?, ?, ?, ?, ?, ?)",
                        [run_id, status, by.strip(), reason.strip(), self._store_path(registry_path), now])
        return self.get(run_id)

    # -- reads ----------------------------------------------------------------------------------
    def _query(self, sql: str, params: Sequence[Any] = (), metric: str | None = None) -> list[dict[str, Any]]:
        """Run ``sql`` (``{col}`` stands for ``metric``'s column) and return rows with a ``metrics`` dict."""
        with self.connect(read_only=True) as con:
            cols = metric_columns(con)
            if metric is not None:
                if metric not in cols:
                    return []
                sql = sql.replace("{col}", cols[metric])
            cur = con.execute(sql, list(params))
            names = [d[0] for d in cur.description]
            raw = cur.fetchall()
        by_col = {col: name for name, col in cols.items()}
        rows = []
        for values in raw:
            row = dict(zip(names, values))
            metrics: dict[str, dict[str, float]] = {}
            for col, name in by_col.items():
                if col in row:
                    mean = row.pop(col)
                    low, high, n = row.pop(f"{col}_low", None), row.pop(f"{col}_high", None), row.pop(f"{col}_n", None)
                    if mean is not None:
                        metrics[name] = {"mean": mean, "low": low, "high": high, "n": n}
            for key, value in (("metrics", metrics),):
                row[key] = value
            for col, key in JSON_COLUMNS.items():
                if col in row:
                    row[key] = json.loads(row.pop(col) or "{}")
            if isinstance(row.get("artifacts"), dict):
                row["artifacts"] = {k: self._load_path(v) for k, v in row["artifacts"].items()}
            if "registry_path" in row:
                row["registry_path"] = self._load_path(row["registry_path"])
            rows.append(row)
        return rows

    @staticmethod
    def _where(filters: dict[str, Any], alias: str = "r") -> tuple[str, list[Any]]:
        allowed = {"kind", "study", "status", "dataset_name", "dataset_version", "split_version", "split_part", "task",
                   "base_model", "method", "system"}
        clauses, params = [], []
        for key, value in filters.items():
            if value is None:
                continue
            if key not in allowed:
                raise LeaderboardError(f"Unknown filter {key!r}; use one of {', '.join(sorted(allowed))}.")
            if isinstance(value, (list, tuple, set)):
                clauses.append(f"{alias}.{key} IN (SELECT unnest(?))")
                params.append(list(value))
            else:
                clauses.append(f"{alias}.{key} = ?")
                params.append(value)
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params

    def runs(self, limit: int | None = None, **filters: Any) -> list[dict[str, Any]]:
        """Runs matching equality filters (kind=, study=, status=, split_version=, ...), newest first."""
        where, params = self._where(filters)
        sql = (
            "SELECT r.*, s.bt_score AS review_score, s.elo AS review_elo, s.comparisons AS review_comparisons "
            f"FROM runs r LEFT JOIN review_scores s ON s.run_id = r.run_id{where} ORDER BY r.created_at DESC, r.run_id"
        )
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return self._query(sql, params)

    def get(self, run_id: str) -> dict[str, Any]:
        """One run (raises when unknown)."""
        rows = self._query(
            "SELECT r.*, s.bt_score AS review_score, s.elo AS review_elo, s.comparisons AS review_comparisons "
            "FROM runs r LEFT JOIN review_scores s ON s.run_id = r.run_id WHERE r.run_id = ?",
            [run_id],
        )
        if not rows:
            raise LeaderboardError(f"No run {run_id!r} on the leaderboard; `advisor leaderboard` lists the runs.")
        return rows[0]

    def count(self, **filters: Any) -> int:
        where, params = self._where(filters)
        with self.connect(read_only=True) as con:
            return int(con.execute(f"SELECT count(*) FROM runs r{where}", params).fetchone()[0])

    def metric_names(self) -> list[str]:
        with self.connect(read_only=True) as con:
            return sorted(metric_columns(con))

    def best_per_kind(self, metric: str, **filters: Any) -> list[dict[str, Any]]:
        """The highest-scoring run of each kind on ``metric`` (ties: the earlier run), within one data set and split.

        Scores on different data sets or splits are not comparable, so the best is taken per
        (data set, split version, split part, kind): filter by ``split_version`` (and ``split_part``)
        to get one row per kind; :meth:`splits` lists what there is.
        """
        where, params = self._where(filters)
        cond = f"{where} AND r.{{col}} IS NOT NULL" if where else " WHERE r.{col} IS NOT NULL"
        sql = (
            "SELECT r.*, r.{col} AS quality, r.{col}_low AS quality_low, r.{col}_high AS quality_high FROM runs r "
            "WHERE r.run_id IN (SELECT arg_max(r.run_id, struct_pack(q := r.{col}, t := -epoch_us(r.created_at))) "
            f"FROM runs r{cond} GROUP BY r.dataset_name, r.split_version, r.split_part, r.kind) "
            "ORDER BY r.dataset_name NULLS LAST, r.split_version NULLS LAST, r.split_part, quality DESC, r.kind"
        )
        return self._query(sql, params, metric=metric)

    def splits(self, **filters: Any) -> list[dict[str, Any]]:
        """The (data set, split version, part, task) combinations on the board, most recent first, with run counts."""
        where, params = self._where(filters)
        sql = (
            "SELECT r.dataset_name, r.split_version, r.split_part, any_value(r.task) AS task, count(*) AS runs, "
            f"max(r.created_at) AS last_run FROM runs r{where} GROUP BY r.dataset_name, r.split_version, r.split_part "
            "ORDER BY last_run DESC"
        )
        return self._query(sql, params)

    def pareto(self, metric: str, cost: str = "money_usd", **filters: Any) -> list[dict[str, Any]]:
        """Runs not beaten on both ``metric`` (higher is better) and ``cost`` (lower is better), cheapest first.

        A run is on the front when its quality beats every run before it in (cost, -quality) order.
        To avoid sorting every run, runs are first bucketed by cost (1,024 equal-width buckets): a run
        whose quality does not beat the best of all cheaper buckets cannot be on the front, so only
        the few survivors are sorted.
        """
        if cost not in COST_COLUMNS:
            raise LeaderboardError(f"cost must be one of {', '.join(COST_COLUMNS)}, got {cost!r}.")
        where, params = self._where(filters)
        cond = f"{where} AND r.{{col}} IS NOT NULL AND r.{cost} IS NOT NULL" if where else f" WHERE r.{{col}} IS NOT NULL AND r.{cost} IS NOT NULL"
        sql = (
            f"WITH base AS (SELECT r.rowid AS rid, r.{{col}} AS q, r.{cost}::DOUBLE AS c FROM runs r{cond}), "
            "lim AS (SELECT min(c) AS lo, max(c) AS hi FROM base), "
            "b AS (SELECT rid, q, c, CASE WHEN hi > lo THEN least(floor((c - lo) / (hi - lo) * 1024), 1023) ELSE 0 END::INTEGER AS bk "
            "FROM base, lim), "
            "bm AS (SELECT bk, max(q) AS mq FROM b GROUP BY bk), "
            "pm AS (SELECT bk, max(mq) OVER (ORDER BY bk ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS before FROM bm), "
            "cand AS (SELECT b.rid, b.q, b.c FROM b JOIN pm USING (bk) WHERE pm.before IS NULL OR b.q > pm.before), "
            "ranked AS (SELECT rid, q, max(q) OVER (ORDER BY c, q DESC, rid ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS bb FROM cand) "
            f"SELECT r.*, r.{{col}} AS quality, r.{{col}}_low AS quality_low, r.{{col}}_high AS quality_high, r.{cost} AS cost "
            "FROM runs r WHERE r.rowid IN (SELECT rid FROM ranked WHERE bb IS NULL OR q > bb) ORDER BY cost, quality DESC"
        )
        return self._query(sql, params, metric=metric)

    def history(self, study: str) -> list[dict[str, Any]]:
        """Every run of a study in trial order (then time)."""
        return self._query("SELECT r.* FROM runs r WHERE r.study = ? ORDER BY r.trial NULLS LAST, r.created_at", [study])

    def reviews(self, run_id: str | None = None) -> list[dict[str, Any]]:
        """Accept/reject decisions, oldest first (all runs, or one)."""
        sql = "SELECT run_id AS review_of, status, by_name, reason, registry_path, decided_at FROM reviews"
        params: list[Any] = []
        if run_id is not None:
            sql += " WHERE run_id = ?"
            params.append(run_id)
        return self._query(sql + " ORDER BY decided_at", params)

    # -- export ---------------------------------------------------------------------------------
    @staticmethod
    def wide_sql(cols: dict[str, str]) -> str:
        """SQL for every run with one column per metric and bound (``chrf``, ``chrf_low``, ``chrf_high``, ``chrf_n``)."""
        hidden = [f"{c}{s}" for c in cols.values() for s in ("", "_low", "_high", "_n")]
        exclude = f" EXCLUDE ({', '.join(hidden)})" if hidden else ""
        named = []
        for name, col in sorted(cols.items()):
            ident = name.replace('"', "")
            named += [f'{col} AS "{ident}"', f'{col}_low AS "{ident}_low"', f'{col}_high AS "{ident}_high"', f'{col}_n AS "{ident}_n"']
        extra = (", " + ", ".join(named)) if named else ""
        return f"SELECT *{exclude}{extra} FROM runs ORDER BY created_at, run_id"

    def export(self, path: str | os.PathLike[str], fmt: str | None = None) -> Path:
        """Write every run (one column per metric and bound) as CSV, Parquet or JSON (by suffix or ``fmt``).

        The file is written beside the target and renamed over it: readers never see half a file.
        """
        target = Path(path).expanduser().resolve()
        fmt = (fmt or target.suffix.lstrip(".")).lower()
        if fmt not in {"csv", "parquet", "json"}:
            raise LeaderboardError(f"Export format must be csv, parquet or json, got {fmt!r} (from {target.name}).")
        if not target.parent.is_dir():
            raise LeaderboardError(f"Cannot export to {target}: the folder {target.parent} does not exist. Create it first, or pick another path.")
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        options = {"csv": "FORMAT csv, HEADER true", "parquet": "FORMAT parquet", "json": "FORMAT json, ARRAY true"}[fmt]
        quoted = "'" + str(tmp).replace("'", "''") + "'"
        try:
            with self.connect(read_only=True) as con:
                con.execute(f"COPY ({self.wide_sql(metric_columns(con))}) TO {quoted} ({options})")
            os.replace(tmp, target)
        finally:
            if tmp.exists():
                tmp.unlink()
        return target


def ingest_run_dirs(board: Leaderboard, workspace: Workspace) -> int:
    """Add every ``runs/*/run.json`` not yet on the board (recovers rows whose write failed).

    Only real folders and files of this workspace are read (a symbolic link could plant a row from
    anywhere), and every row arrives as a candidate: a decision is made by `advisor accept` / `reject`,
    never by a file.
    """
    import dataclasses

    runs = workspace.dir("runs").resolve()
    records = []
    for name in workspace.names("runs"):
        folder = runs / name
        path = folder / "run.json"
        if folder.is_symlink() or path.is_symlink() or not path.is_file() or path.resolve().parent != folder:
            continue
        try:
            record = RunRecord.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError, RecursionError, LeaderboardError):
            continue
        records.append(dataclasses.replace(record, status="candidate", status_by=None, status_reason=None, status_at=None,
                                           registry_path=None))
    return board.ingest(records)
