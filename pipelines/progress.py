"""Progress lines for long work: each stage says when it starts and how long it took."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager

log = logging.getLogger("arw.progress")

# (stage, seconds) of every stage this process ran, in order: `make bench` reads it.
TIMINGS: list[tuple[str, float]] = []


@contextmanager
def stage(name: str) -> Iterator[dict]:
    """Log the stage's start and end; put a short outcome into the yielded dict's "note"."""
    info: dict = {}
    started = time.monotonic()
    log.info("%-14s …", name)
    try:
        yield info
    finally:
        seconds = time.monotonic() - started
        TIMINGS.append((name, seconds))
        note = f" — {info['note']}" if info.get("note") else ""
        log.info("%-14s %5.1f s%s", name, seconds, note)
