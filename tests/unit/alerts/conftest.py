"""A build database under a temporary warehouse directory, and settings pointing at it."""

from dataclasses import replace
from pathlib import Path

import duckdb
import pytest

from pipelines.alerts.outbox import ensure_alert_tables
from pipelines.settings import AlertSettings, Settings
from pipelines.warehouse import connect

from .servers import SmtpServer, WebhookServer


def make_settings(tmp_path: Path, **alerts) -> Settings:
    base = Settings.from_env().with_overrides(tmp_path / "inbox", tmp_path / "wh")
    defaults = {"retry_backoff_seconds": 0.0, "max_attempts": 2, "timeout_seconds": 5.0}
    return replace(base, alerts=AlertSettings(**{**defaults, **alerts}))


@pytest.fixture
def settings(tmp_path) -> Settings:
    s = make_settings(tmp_path)
    with connect(s) as con:
        ensure_alert_tables(con)
    return s


def rows(settings: Settings, sql: str, params: list | None = None) -> list[tuple]:
    con = duckdb.connect(str(settings.build_db), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


@pytest.fixture
def webhook():
    server = WebhookServer()
    yield server
    server.close()


@pytest.fixture
def smtp():
    server = SmtpServer()
    yield server
    server.close()
