"""The file registry: every inbox file is taken in once, by content hash.

A file delivered twice, even renamed, has the same SHA-256 and is skipped (its sighting is
recorded). A file that cannot be read goes to quarantine: a copy under the warehouse
directory beside a text file with the reason. Inbox files are never modified or deleted.
"""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb

from pipelines.settings import Settings
from pipelines.warehouse import scalar


@dataclass(frozen=True)
class InboxFile:
    path: Path
    relative_path: str
    file_hash: str
    size_bytes: int


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def list_inbox(inbox: Path, folder: str, patterns: tuple[str, ...]) -> list[Path]:
    """Files in ``inbox/folder`` matching any pattern, sorted by name (a stable load order)."""
    base = inbox / folder
    if not base.is_dir():
        return []
    found: set[Path] = set()
    for pattern in patterns:
        found.update(p for p in base.glob(pattern) if p.is_file() and not p.name.startswith("."))
    return sorted(found, key=lambda p: p.relative_to(base).as_posix())


def new_files(con: duckdb.DuckDBPyConnection, settings: Settings, paths: list[Path],
              run_id: str) -> list[InboxFile]:
    """The files not yet taken in. Sightings of known files (renamed copies too) are recorded."""
    result: list[InboxFile] = []
    seen_now: set[str] = set()
    now = datetime.now()
    hashes = _known_hashes(con, paths)
    for path in paths:
        file_hash = hashes[path]
        rel = path.relative_to(settings.inbox).as_posix()
        known = con.execute(
            "SELECT 1 FROM audit.files WHERE file_hash = ?", [file_hash]
        ).fetchall()
        if known or file_hash in seen_now:
            con.execute(
                "INSERT INTO audit.file_sightings VALUES (?, ?, ?, ?)", [file_hash, rel, run_id, now]
            )
            continue
        seen_now.add(file_hash)
        result.append(InboxFile(path, rel, file_hash, path.stat().st_size))
    return result


def _known_hashes(con: duckdb.DuckDBPyConnection, paths: list[Path]) -> dict[Path, str]:
    """The content hash of each file. A file whose path, size and modification time (to the
    nanosecond) are those it had when last hashed is not read again: an inbox keeps growing,
    and at 10M invoices reading it all again took ~5 s a night. Rewriting a file changes its
    time; a copy keeping the time (cp -p) is hashed again when its path is new."""
    keys = {p: str(p.resolve()) for p in paths}  # two inbox paths may name one file (a link)
    cached = {path: (size, mtime, file_hash) for path, size, mtime, file_hash in con.execute(
        "SELECT path, size_bytes, mtime_ns, file_hash FROM audit.inbox_hashes "
        "WHERE path IN (SELECT unnest(?))", [sorted(set(keys.values()))]).fetchall()}
    hashes, fresh = {}, []
    for path, key in keys.items():
        st = path.stat()
        size, mtime, file_hash = cached.get(key, (None, None, None))
        if (size, mtime) != (st.st_size, st.st_mtime_ns):
            file_hash = sha256_of(path)
            cached[key] = (st.st_size, st.st_mtime_ns, file_hash)
            fresh.append((key, *cached[key]))
        hashes[path] = file_hash
    if fresh:
        con.executemany("INSERT OR REPLACE INTO audit.inbox_hashes VALUES (?, ?, ?, ?)", fresh)
    return hashes


def next_file_seq(con: duckdb.DuckDBPyConnection) -> int:
    return int(scalar(con, "SELECT coalesce(max(file_seq), 0) + 1 FROM audit.files"))


def register_file(con: duckdb.DuckDBPyConnection, f: InboxFile, file_seq: int, kind: str,
                  status: str, run_id: str, rows_in: int = 0, rows_loaded: int = 0,
                  rows_rejected: int = 0, rows_duplicate: int = 0, reason: str | None = None) -> None:
    con.execute(
        "INSERT INTO audit.files VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [f.file_hash, file_seq, f.path.name, f.relative_path, kind, f.size_bytes, status,
         rows_in, rows_loaded, rows_rejected, rows_duplicate, reason, run_id, datetime.now()],
    )


def quarantine(settings: Settings, f: InboxFile, reason: str) -> Path:
    """Copy the file into quarantine with its reason beside it. The inbox is left as it is."""
    settings.quarantine_dir.mkdir(parents=True, exist_ok=True)
    target = settings.quarantine_dir / f"{f.file_hash[:12]}_{f.path.name}"
    shutil.copyfile(f.path, target)
    target.with_name(target.name + ".reason.txt").write_text(reason + "\n", encoding="utf-8")
    return target
