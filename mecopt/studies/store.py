"""The study's SQLite store: one row per finished run, keyed by the run's identity.

A row is written only when its run has finished (or failed), in one transaction, by the one
process that drives the study; a run killed mid-way leaves no row and is run again on resume.
The primary key makes a run impossible to count twice.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

COLUMNS = [
    ("run_id", "TEXT PRIMARY KEY"), ("study", "TEXT"), ("problem", "TEXT"),
    ("instance_hash", "TEXT"), ("instance_name", "TEXT"), ("size", "INTEGER"),
    ("size_label", "TEXT"), ("generator", "TEXT"), ("instance_seed", "INTEGER"),
    ("solver", "TEXT"), ("options", "TEXT"), ("solver_seed", "INTEGER"),
    ("time_limit", "REAL"), ("max_evals", "INTEGER"), ("status", "TEXT"),
    ("termination", "TEXT"), ("objective", "REAL"), ("feasible", "INTEGER"), ("bound", "REAL"),
    ("gap_to_exact", "REAL"), ("runtime_s", "REAL"), ("evaluations", "INTEGER"),
    ("iterations", "INTEGER"), ("converged_iteration", "INTEGER"), ("history", "TEXT"),
    ("error", "TEXT"), ("versions", "TEXT"), ("finished_at", "TEXT"), ("worker", "TEXT"),
]
NAMES = [c for c, _ in COLUMNS]


class Store:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path, timeout=30)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")  # a committed run survives power loss
        cols = ", ".join(f"{c} {t}" for c, t in COLUMNS)
        with self.db:
            self.db.execute(f"CREATE TABLE IF NOT EXISTS runs ({cols})")
            self.db.execute("CREATE INDEX IF NOT EXISTS runs_instance ON runs(instance_hash)")

    def finished_ids(self) -> set[str]:
        return {r[0] for r in self.db.execute("SELECT run_id FROM runs")}

    def insert(self, row: dict) -> bool:
        """Record a finished run; False if that run was already recorded."""
        vals = [row.get(c) for c in NAMES]
        with self.db:
            cur = self.db.execute(
                f"INSERT OR IGNORE INTO runs ({', '.join(NAMES)}) VALUES ({', '.join('?' * len(NAMES))})",
                vals)
            if cur.rowcount:
                self._refresh_gaps(row["instance_hash"], row["problem"])
        return bool(cur.rowcount)

    def _refresh_gaps(self, instance_hash: str, problem: str) -> None:
        from ..formulations import PROBLEMS
        from ..solvers.base import relative_gap

        best = self.db.execute(
            "SELECT objective FROM runs WHERE instance_hash=? AND status='optimal' "
            "AND solver IN ('exact', 'enumerate', 'minlp') ORDER BY solver='exact' DESC LIMIT 1",
            (instance_hash,)).fetchone()
        if best is None:
            return
        sense = PROBLEMS[problem].SENSE
        rows = self.db.execute("SELECT run_id, objective, feasible FROM runs WHERE instance_hash=?",
                               (instance_hash,)).fetchall()
        for rid, obj, feas in rows:
            gap = relative_gap(obj, best[0], sense) if feas else None
            self.db.execute("UPDATE runs SET gap_to_exact=? WHERE run_id=?", (gap, rid))

    def rows(self) -> list[dict]:
        cur = self.db.execute(f"SELECT {', '.join(NAMES)} FROM runs ORDER BY size, solver, instance_seed, solver_seed")
        out = []
        for r in cur:
            d = dict(zip(NAMES, r))
            for k in ("generator", "options", "history", "versions"):
                d[k] = json.loads(d[k]) if d[k] else None
            out.append(d)
        return out

    def close(self) -> None:
        self.db.close()
