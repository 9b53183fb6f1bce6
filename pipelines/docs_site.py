"""`arw docs`: the dbt documentation site of the warehouse, built and served locally.

``dbt docs generate`` runs in process (as the night runs dbt) against the build database,
which holds every model the night built: the catalog it reads from there gives each mart's
columns and types, the manifest their descriptions. The site goes to ``docs/`` under the
warehouse directory (``Settings.docs_dir``). DuckDB allows one process at a time to write a
database file, so this runs between nights, not while one is running.

``--serve`` serves that folder on 127.0.0.1 only, with Python's http.server, until Ctrl-C.
"""

from __future__ import annotations

import functools
import json
from datetime import date
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import duckdb

from pipelines.errors import UsageError
from pipelines.settings import Settings
from pipelines.warehouse import open_read_only

SITE_FILES = ("index.html", "manifest.json", "catalog.json")


def _last_night(settings: Settings) -> date | None:
    """The as-of date of the latest published night in the build database (None if none).

    Opening the database also tells whether a night is running: DuckDB refuses a second
    process while one writes.
    """
    if not settings.build_db.exists():
        raise UsageError(f"{settings.build_db}: expected a build database, found none "
                         "(run `arw nightly` first)")
    try:
        con = open_read_only(settings.build_db, settings)
    except duckdb.IOException as exc:
        raise UsageError(f"{settings.build_db}: expected the build database free, found it in use "
                         f"(a night is running?); try again when it has finished ({exc})") from exc
    try:
        row = con.execute("SELECT max(as_of_date) FROM audit.runs WHERE status = 'published'"
                          ).fetchone()
    except duckdb.CatalogException:
        row = None
    finally:
        con.close()
    return row[0] if row else None


def build_docs(settings: Settings) -> Path:
    """Run ``dbt docs generate`` into ``settings.docs_dir``; returns that folder."""
    from pipelines.transform.dbt import run_dbt

    as_of = _last_night(settings)
    variables = {"reporting_currency": settings.reporting_currency}
    if as_of is not None:  # the compiled SQL shown in the site is that night's
        variables["as_of_date"] = as_of.isoformat()
    target = settings.docs_dir
    target.mkdir(parents=True, exist_ok=True)
    result = run_dbt(settings, ["docs", "generate", "--target-path", str(target),
                                "--vars", json.dumps(variables)])
    if not result.success:
        detail = result.exception or f"see the dbt log in {settings.warehouse_dir / 'logs'}"
        raise UsageError(f"dbt docs generate failed: {detail}")
    missing = [name for name in SITE_FILES if not (target / name).exists()]
    if missing:
        raise UsageError(f"{target}: expected {', '.join(SITE_FILES)}, found no {', '.join(missing)}")
    return target


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args) -> None:  # noqa: A002 - the base class's name
        pass


def make_server(directory: Path, port: int = 8080) -> ThreadingHTTPServer:
    """An HTTP server for `directory` on 127.0.0.1:`port` (0 = any free port), not yet serving."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    try:
        return ThreadingHTTPServer(("127.0.0.1", port), handler)
    except OSError as exc:
        raise UsageError(f"--port {port}: expected a free port on 127.0.0.1, found it taken "
                         f"({exc.strerror})") from exc


def serve(directory: Path, port: int = 8080) -> None:
    """Serve the site until Ctrl-C."""
    server = make_server(directory, port)
    host, bound = server.server_address[:2]
    print(f"Serving the warehouse documentation at http://{host}:{bound}/ (Ctrl-C stops)",
          flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("stopped")
    finally:
        server.server_close()
