"""progress.stage: the log lines and TIMINGS as before, and each stage's memory in STAGES."""

import logging

from pipelines import progress


def test_a_stage_records_its_time_and_its_own_peak_memory(caplog):
    progress.TIMINGS.clear()
    progress.STAGES.clear()
    with caplog.at_level(logging.INFO, logger="arw.progress"), progress.stage("outer") as info:
        with progress.stage("allocate"):
            block = bytearray(200 * 1024 * 1024)  # 200 MB, touched
            block[:: 4096] = b"x" * len(block[:: 4096])
            del block
        with progress.stage("idle"):
            pass
        info["note"] = "done"
    assert [name for name, _ in progress.TIMINGS] == ["allocate", "idle", "outer"]
    stats = {s.name: s for s in progress.STAGES}
    assert stats["allocate"].peak_rss_mb >= stats["idle"].peak_rss_mb + 150
    assert stats["outer"].peak_rss_mb >= stats["allocate"].peak_rss_mb  # nested peaks count
    assert stats["idle"].rss_end_mb > 0
    assert progress.peak_rss_mb() >= stats["allocate"].peak_rss_mb
    assert any("outer" in r.message and "done" in r.message for r in caplog.records)
