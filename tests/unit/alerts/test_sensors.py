"""The run-failure sensor, with Dagster's own sensor test utilities."""

import dagster as dg
import pytest

from pipelines.alerts.sensors import alert_on_night_published, alert_on_run_failure
from pipelines.resources import WarehouseResource

from .conftest import rows


@dg.asset(key=["raw", "erp_invoices"])
def exploding_ingest():
    raise ValueError("erp/invoices.csv could not be read: the disk is full")


@dg.asset(key=["marts", "fct_ar_aging"], deps=[exploding_ingest])
def downstream():
    return None


@pytest.fixture
def failed_run():
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize([exploding_ingest, downstream], instance=instance, raise_on_error=False)
    assert not result.success
    return instance, result


def test_an_exception_in_an_asset_is_recorded_and_sent(failed_run, settings, webhook, monkeypatch):
    monkeypatch.setenv("ARW_ALERT_WEBHOOK_URL", webhook.url())
    monkeypatch.setenv("ARW_ALERT_RETRY_BACKOFF_SECONDS", "0")
    instance, result = failed_run
    context = dg.build_run_status_sensor_context(
        sensor_name="alert_on_run_failure", dagster_instance=instance,
        dagster_run=result.dagster_run, dagster_event=result.get_run_failure_event(),
        resources={"warehouse": WarehouseResource(inbox=str(settings.inbox),
                                                  warehouse_dir=str(settings.warehouse_dir))},
    ).for_run_failure()
    alert_on_run_failure(context)

    [(kind, severity, status, subject, body, run_id)] = rows(
        settings, "SELECT kind, severity, status, subject, body, run_id FROM audit.alerts")
    assert (kind, severity, status, run_id) == ("run_failed", "error", "sent", result.run_id)
    assert subject == (f"Run {result.run_id[:8]} of {result.dagster_run.job_name} failed: step "
                       "raw__erp_invoices failed: ValueError: erp/invoices.csv could not be read: "
                       "the disk is full")
    assert "ValueError: erp/invoices.csv could not be read: the disk is full" in body
    [got] = webhook.requests
    assert got.body["kind"] == "run_failed" and got.body["run_id"] == result.run_id
    assert got.body["facts"]["steps"][0]["step"] == "raw__erp_invoices"
    assert "the disk is full" in got.body["text"]

    alert_on_run_failure(context)  # evaluated again for the same run: not recorded or sent twice
    assert len(webhook.requests) == 1
    assert rows(settings, "SELECT count(*) FROM audit.alerts") == [(1,)]


def test_a_nightly_run_that_failed_runs_the_whole_alert_stage_for_its_night(settings):
    parts = dg.DailyPartitionsDefinition("2026-10-01")

    @dg.asset(key=["raw", "erp_invoices"], partitions_def=parts)
    def ingest():
        raise ValueError("boom")

    defs = dg.Definitions(assets=[ingest], jobs=[dg.define_asset_job("nightly", selection=[ingest])])
    instance = dg.DagsterInstance.ephemeral()
    result = defs.resolve_job_def("nightly").execute_in_process(
        partition_key="2026-10-31", instance=instance, raise_on_error=False)
    assert not result.success
    context = dg.build_run_status_sensor_context(
        sensor_name="alert_on_run_failure", dagster_instance=instance,
        dagster_run=result.dagster_run, dagster_event=result.get_run_failure_event(),
        resources={"warehouse": WarehouseResource(inbox=str(settings.inbox),
                                                  warehouse_dir=str(settings.warehouse_dir))},
    ).for_run_failure()
    alert_on_run_failure(context)
    [(kind, subject, as_of)] = rows(settings, "SELECT kind, subject, as_of_date::VARCHAR FROM audit.alerts")
    assert (kind, as_of) == ("run_failed", "2026-10-31")
    assert subject == "Night of 2026-10-31 NOT published: step raw__erp_invoices failed: ValueError: boom"
    # the night's alert stage ran (it keeps one row per stage), not only the failure alert
    assert rows(settings, "SELECT as_of_date::VARCHAR, published FROM audit.alert_runs") == [
        ("2026-10-31", False)]


def test_the_success_sensor_ignores_runs_that_did_not_publish(settings):
    @dg.asset
    def fine():
        return 1

    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize([fine], instance=instance)
    context = dg.build_run_status_sensor_context(
        sensor_name="alert_on_night_published", dagster_instance=instance,
        dagster_run=result.dagster_run, dagster_event=result.get_run_success_event(),
        resources={"warehouse": WarehouseResource(inbox=str(settings.inbox),
                                                  warehouse_dir=str(settings.warehouse_dir))},
    )
    alert_on_night_published(context)
    assert rows(settings, "SELECT count(*) FROM audit.alert_runs") == [(0,)]
