"""`arw docs --serve` after a night: the dbt documentation site, built and served on 127.0.0.1."""

import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request

import pytest

STARTUP_SECONDS = 240


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def site(generated_night):
    wh = generated_night["wh"]
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipelines.cli", "docs", "--serve", "--port", str(port),
         "--warehouse-dir", str(wh)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ),
        # as in a terminal: Ctrl-C reaches the server even when this test runs in a background
        # job (a non-interactive shell starts those with SIGINT ignored, and children inherit it)
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True).start()
    output, url = [], None
    deadline = time.monotonic() + STARTUP_SECONDS
    try:
        while url is None and time.monotonic() < deadline and proc.poll() is None:
            try:
                line = lines.get(timeout=1)
            except queue.Empty:
                continue
            output.append(line)
            if line.startswith("Serving"):
                url = line.split(" at ", 1)[1].split()[0]
        if url is None:
            proc.kill()
            pytest.fail("arw docs --serve did not start serving:\n" + "".join(output)
                        + proc.stderr.read())
        assert url == f"http://127.0.0.1:{port}/"
        yield {"dir": wh / "docs", "url": url, "output": "".join(output)}
    finally:
        proc.send_signal(signal.SIGINT)  # Ctrl-C
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise
    assert proc.returncode == 0


def test_the_site_is_written_under_the_warehouse_dir(site):
    for name in ("index.html", "manifest.json", "catalog.json"):
        assert (site["dir"] / name).stat().st_size > 0, name
    assert f"Wrote the warehouse documentation to {site['dir']}" in site["output"]


def test_the_catalog_shows_the_marts_columns_with_their_descriptions(site):
    catalog = json.loads((site["dir"] / "catalog.json").read_text())
    manifest = json.loads((site["dir"] / "manifest.json").read_text())
    node = "model.ar_warehouse.fct_ar_aging"
    table = catalog["nodes"][node]
    assert (table["metadata"]["schema"], table["metadata"]["name"]) == ("marts", "fct_ar_aging")
    columns = set(table["columns"])
    assert {"as_of_date", "invoice_id", "open_amount", "days_past_due", "aging_bucket"} <= columns
    described = {c: v["description"] for c, v in manifest["nodes"][node]["columns"].items()}
    assert columns <= set(described)
    assert all(described[c].strip() for c in columns)
    assert manifest["nodes"][node]["description"]


def test_index_and_catalog_are_served_over_http_on_localhost(site):
    with urllib.request.urlopen(site["url"] + "index.html", timeout=30) as response:
        assert response.status == 200
        assert b"<html" in response.read(4096).lower()
    with urllib.request.urlopen(site["url"] + "catalog.json", timeout=30) as response:
        served = json.loads(response.read())
    assert "model.ar_warehouse.fct_ar_aging" in served["nodes"]
