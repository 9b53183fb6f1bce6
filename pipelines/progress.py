"""Progress lines for long work: each stage says when it starts and how long it took.

Every stage is also recorded for `make bench`: ``TIMINGS`` (stage, seconds) and ``STAGES``
with the memory too — the process's peak resident memory during the stage and its resident
memory at the stage's end. On Linux the peak is the stage's own: the kernel's high-water mark
(``VmHWM``) is reset at the start of each stage (``/proc/self/clear_refs``), and
``peak_rss_mb()`` keeps the peak of the whole process across those resets. Elsewhere the
peak is the process's peak so far (``ru_maxrss``).
"""

from __future__ import annotations

import logging
import re
import resource
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("arw.progress")

# (stage, seconds) of every stage this process ran, in order: `make bench` reads it.
TIMINGS: list[tuple[str, float]] = []


@dataclass(frozen=True)
class StageStats:
    name: str
    seconds: float
    peak_rss_mb: float  # the highest resident memory of this process during the stage
    rss_end_mb: float  # resident memory at the stage's end
    started: float  # time.monotonic() at the start


# Every stage this process ran, in order, with its memory (`make bench` reads it).
STAGES: list[StageStats] = []

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")
_open_peaks: list[list[float]] = []  # the peak so far of each stage still running (nested stages)
_process_peak_mb = 0.0
_can_reset = sys.platform.startswith("linux")


def _status_mb(field: str) -> float | None:
    try:
        match = re.search(rf"^{field}:\s+(\d+) kB", _STATUS.read_text(), re.MULTILINE)
    except OSError:
        return None
    return int(match.group(1)) / 1024 if match else None


def _hwm_mb() -> float:
    """The high-water mark of resident memory since the last reset (or the process start)."""
    hwm = _status_mb("VmHWM") if _can_reset else None
    if hwm is None:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return hwm


def rss_mb() -> float:
    """This process's resident memory now (MB)."""
    current = _status_mb("VmRSS")
    return current if current is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _fold() -> float:
    """Fold the current high-water mark into the running stages and the process's peak."""
    global _process_peak_mb
    hwm = _hwm_mb()
    for peak in _open_peaks:
        peak[0] = max(peak[0], hwm)
    _process_peak_mb = max(_process_peak_mb, hwm)
    return hwm


def _reset_hwm() -> None:
    global _can_reset
    if not _can_reset:
        return
    try:
        _CLEAR_REFS.write_text("5")  # resets VmHWM to the current RSS (Linux ≥ 4.0)
    except OSError:
        _can_reset = False


def peak_rss_mb() -> float:
    """The peak resident memory of this process since it started (MB), across stage resets."""
    return max(_fold(), _process_peak_mb)


def reset_peak() -> None:
    """Start measuring the process's peak afresh (the benchmark does this before each night)."""
    global _process_peak_mb
    _fold()
    _reset_hwm()
    _process_peak_mb = rss_mb()


@contextmanager
def stage(name: str) -> Iterator[dict]:
    """Log the stage's start and end; put a short outcome into the yielded dict's "note"."""
    info: dict = {}
    _fold()
    _reset_hwm()
    peak = [rss_mb()]
    _open_peaks.append(peak)
    started = time.monotonic()
    log.info("%-14s …", name)
    try:
        yield info
    finally:
        seconds = time.monotonic() - started
        _fold()
        _open_peaks.remove(peak)
        TIMINGS.append((name, seconds))
        STAGES.append(StageStats(name, seconds, peak[0], rss_mb(), started))
        note = f" — {info['note']}" if info.get("note") else ""
        log.info("%-14s %5.1f s%s", name, seconds, note)
