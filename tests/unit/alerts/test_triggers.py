"""The end-of-night triggers and the digest, on small hand-made build databases."""

from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal

import pytest

from pipelines.alerts.digest import business_digest
from pipelines.alerts.stage import evaluate, run_alert_stage
from pipelines.alerts.triggers import (
    Night,
    bad_input,
    erp_tie_out,
    match_rate_drop,
    open_exceptions,
    receipts_control,
    row_control,
    statement_balances,
    statement_sequence,
)
from pipelines.warehouse import connect

from .conftest import rows

D = date(2026, 10, 31)
NOW = datetime(2026, 11, 1, 2, 30)


def lineage(file_seq: int = 1, run_id: str = "run-1") -> list:
    return [f"hash{file_seq}", file_seq, f"bank/file{file_seq}.xml", None, run_id, NOW]


def add_transaction(con, tid, amount, ccy="EUR", effective=D, file_seq=1, name="Payer"):
    con.execute("""
        INSERT INTO raw.bank_transactions VALUES (?, ?, 'CH93', '', '', ?, ?, ?, ?, ?, ?, '', '', '',
            '', false, '', '', 'bank/f.xml', 'camt.053', 'Ntry[1]', ?, ?, ?, ?, ?, ?)
    """, [tid, f"REF-{tid}", effective, effective, effective, Decimal(amount), ccy, name,
          *lineage(file_seq)])


def add_outcome(con, tid, outcome, reason=None, as_of=D):
    con.execute("INSERT INTO recon.receipt_outcomes VALUES (?, 'run-1', ?, NULL, NULL, ?, ?, ?)",
                [as_of, tid, outcome, reason, "INV-1;INV-2" if reason else None])


def add_allocation(con, seq, tid, amount, decided_by="matcher"):
    con.execute("""
        INSERT INTO recon.allocation_ledger VALUES (?, 'allocation', 'allocation', 'run-1', ?, ?, ?,
            'I1', ?, 'EUR', ?, 'rule', '1', 1.0, NULL, ?, NULL)
    """, [seq, D, NOW, tid, Decimal(amount), D, decided_by])


def night(settings, published=True, as_of=D, run_id="run-1", **alerts) -> Night:
    return Night(run_id, as_of, published, replace(settings.alerts, **alerts))


# --------------------------------------------------------------------------- statements
def test_a_statement_that_does_not_add_up_is_alerted_once_and_does_not_block(settings):
    with connect(settings) as con:
        con.execute("""
            INSERT INTO raw.bank_statements VALUES ('STMT-7', 'CH9300762011623852957', 'EUR', '7',
                DATE '2026-10-01', DATE '2026-10-31', 1000, 1250, 300, 3, 'mismatch', 50, 'camt.053',
                'h1', 1, 'bank/oct.xml', NULL, 'run-1', ?),
              ('STMT-8', 'CH9300762011623852957', 'EUR', '8', DATE '2026-11-01', DATE '2026-11-30',
                1250, 1300, 50, 1, 'ok', 0, 'camt.053', 'h1', 1, 'bank/oct.xml', NULL, 'run-1', ?)
        """, [NOW, NOW])
        [alert] = statement_balances(con, night(settings))
    assert alert.subject == "Bank statement does not add up: bank/oct.xml (statement STMT-7)"
    assert ("statement STMT-7 no. 7 of account CH9300762011623852957 (2026-10-01 – 2026-10-31): "
            "opening 1,000.00 + entries 300.00 = 1,300.00, closing 1,250.00 EUR, difference 50.00") in alert.body
    run_alert_stage(settings, "run-1", D, published=True)
    run_alert_stage(settings, "run-2", date(2026, 11, 1), published=True)
    assert rows(settings, "SELECT run_id, kind FROM audit.alerts") == [("run-1", "statement_balance")]


def test_sequence_gaps_come_from_fct_bank_statements_when_it_exists(settings):
    with connect(settings) as con:
        assert statement_sequence(con, night(settings)) == []  # the mart is not there yet
        con.execute("CREATE SCHEMA marts")
        con.execute("""
            CREATE TABLE marts.fct_bank_statements AS SELECT * FROM (VALUES
                ('CH93', 'S-41', '41', 'bank/41.xml', 40, NULL, 'ok', 1),
                ('CH93', 'S-43', '43', 'bank/43.xml', 41, '42', 'gap', 2),
                ('CH93', 'S-43', '43', 'bank/43b.xml', 43, NULL, 'duplicate', 3),
                ('DE89', 'X', '', 'bank/x.csv', NULL, NULL, 'not_checkable', 4))
                t(account, statement_id, sequence_number, source_file, previous_statement_number,
                  missing_sequence_numbers, sequence_status, file_seq)
        """)
        [alert] = statement_sequence(con, night(settings))
        assert statement_sequence(con, night(settings, published=False)) == []
    assert alert.subject == "Bank statement sequence gap on account CH93: 1 statement(s)"
    assert "- statement S-43 no. 43 (bank/43.xml): missing before it: 42" in alert.body


# --------------------------------------------------------------------------- reconciliation
def test_open_exceptions_above_the_threshold(settings):
    with connect(settings) as con:
        add_transaction(con, "T1", "80.00", name="Unknown GmbH")
        add_transaction(con, "T2", "20.50", ccy="CHF")
        add_transaction(con, "T3", "10.00")
        add_outcome(con, "T1", "exception", "UNKNOWN_PAYER")
        add_outcome(con, "T2", "exception", "SEVERAL_INVOICES_FIT_AMOUNT")
        add_outcome(con, "T3", "allocated")
        assert open_exceptions(con, night(settings, exceptions_threshold=2)) == []
        [alert] = open_exceptions(con, night(settings, exceptions_threshold=1))
        assert open_exceptions(con, night(settings, as_of=date(2026, 11, 1), exceptions_threshold=0)) == []
        [short] = open_exceptions(con, night(settings, exceptions_threshold=1, digest_max_items=1))
    assert alert.subject == "2 open reconciliation exceptions (threshold 1)"
    assert "By reason: SEVERAL_INVOICES_FIT_AMOUNT 1, UNKNOWN_PAYER 1\n" in alert.body
    assert "more exceptions" not in alert.body
    # the oldest first, the rest counted
    assert short.body.endswith("\n- 2026-10-31 EUR 80.00 from Unknown GmbH (ref REF-T1): UNKNOWN_PAYER, "
                               "candidates INV-1;INV-2\n- … and 1 more exceptions")
    assert alert.facts == {"count": 2, "amount": {"CHF": "20.50", "EUR": "80.00"}}
    assert "2026-10-31 EUR 80.00 from Unknown GmbH (ref REF-T1): UNKNOWN_PAYER, candidates INV-1;INV-2" in alert.body


def test_match_rate_drop_against_the_trailing_average(settings):
    with connect(settings) as con:
        for day, rate in ((27, "0.9000"), (28, "0.8800"), (29, "0.9200")):
            con.execute("INSERT INTO audit.match_rates VALUES (?, 'EUR', 'r', ?, 100, 90, ?)",
                        [date(2026, 10, day), NOW, Decimal(rate)])
        for tid, amount in (("T1", "100.00"), ("T2", "100.00"), ("T3", "50.00")):
            add_transaction(con, tid, amount)
            add_outcome(con, tid, "allocated")
        add_transaction(con, "T4", "500.00")
        add_outcome(con, "T4", "not_ar")  # not AR money: outside the rate
        add_allocation(con, 1, "T1", "100.00")
        add_allocation(con, 2, "T2", "25.00")
        add_allocation(con, 3, "T3", "50.00", decided_by="anna")  # a person's, not the matcher's
        n = night(settings)
        [alert] = match_rate_drop(con, n)
        n.apply_writes(con)
        stored = con.execute("SELECT currency, ar_receipts_amount, matcher_applied_amount, auto_match_rate "
                             "FROM audit.match_rates WHERE as_of_date = ?", [D]).fetchall()
        assert match_rate_drop(con, night(settings, match_rate_min_nights=4)) == []
    assert stored == [("EUR", Decimal("250.00"), Decimal("125.00"), Decimal("0.5000"))]
    assert alert.subject == "Auto-match rate EUR dropped to 50.0% (average of the 3 earlier nights 90.0%)"
    assert alert.facts == {"currency": "EUR", "rate": "0.5000", "average": "0.9000"}


def test_money_controls(settings):
    with connect(settings) as con:
        con.execute("INSERT INTO audit.runs VALUES ('run-1', ?, ?, NULL, 'running', NULL)", [D, NOW])
        con.execute("INSERT INTO audit.files VALUES ('hash1', 1, 'file1.xml', 'bank/file1.xml', 'bank', "
                    "10, 'loaded', 3, 2, 0, 0, NULL, 'run-1', ?)", [NOW])
        add_transaction(con, "T1", "10.00")  # only one of the two loaded rows is stored
        [rows_alert] = row_control(con, night(settings))
        con.execute("CREATE SCHEMA marts")
        con.execute("""CREATE TABLE marts.fct_bank_receipts AS SELECT * FROM (VALUES
            ('T1', 100.00, 'EUR', 60.00, 40.00, 0.00), ('T2', 50.00, 'EUR', 20.00, 20.00, 0.00),
            ('T3', 70.00, 'USD', 70.00, 0.00, 0.00))
            t(transaction_id, amount, currency, applied_amount, unapplied_amount, excluded_amount)""")
        [receipts_alert] = receipts_control(con, night(settings))
    assert rows_alert.kind == receipts_alert.kind == "money_control"
    assert ("bank/file1.xml: rows in 3 ≠ loaded 2 + rejected 0 + duplicates 0 (2)" in rows_alert.body)
    assert "bank/file1.xml: raw.bank_transactions holds 1 of its rows, ingest loaded 2" in rows_alert.body
    assert receipts_alert.subject == "Money control broken: AR receipts ≠ applied + unapplied (EUR)"
    assert "EUR: 1 receipt(s) off, receipts − (applied + unapplied + excluded) = 10.00" in receipts_alert.body


def test_bad_input_names_the_quarantined_file_and_the_rejected_rows(settings):
    with connect(settings) as con:
        con.execute("INSERT INTO audit.files VALUES ('h1', 1, 'x.xml', 'bank/x.xml', 'bank', 10, "
                    "'quarantined', 0, 0, 0, 0, 'bank/x.xml, line 1: expected XML, found text', 'run-1', ?),"
                    "('h2', 2, 'invoices.csv', 'erp/invoices.csv', 'erp:invoices', 10, 'loaded', 5, 4, 1, 0,"
                    " NULL, 'run-1', ?)", [NOW, NOW])
        con.execute("INSERT INTO audit.rejects VALUES ('run-1', 'h2', 'erp/invoices.csv', 'erp:invoices', 3,"
                    " 'line 3', 'erp/invoices.csv, line 3: amount: expected a decimal number, found \"1,5\"',"
                    " '{}', ?)", [NOW])
        [alert] = bad_input(con, night(settings))
    assert alert.subject == ("Bad input on the night of 2026-10-31: 1 file(s) quarantined, "
                             "1 row(s) rejected in 1 file(s)")
    assert "- bank/x.xml: quarantined — bank/x.xml, line 1: expected XML, found text" in alert.body
    assert "- erp/invoices.csv: 1 of 5 rows rejected" in alert.body
    assert 'erp/invoices.csv, line 3: amount: expected a decimal number, found "1,5"' in alert.body


# --------------------------------------------------------------------------- marts
def test_erp_tie_out_differences_when_published(settings):
    with connect(settings) as con:
        assert erp_tie_out(con, night(settings)) == []  # no mart: nothing, no error
        con.execute("CREATE SCHEMA marts")
        con.execute("""CREATE TABLE marts.fct_erp_tie_out AS SELECT * FROM (VALUES
            (DATE '2026-10-31', 'I4', 'INV-1004', 'C2', 'EUR', 300.00, 250.00, 50.00, 'amount_differs'),
            (DATE '2026-10-31', 'X99', NULL, NULL, NULL, 0.00, 10.00, -10.00, 'not_in_warehouse'),
            (DATE '2026-10-30', 'I1', 'INV-1001', 'C1', 'EUR', 1.00, 0.00, 1.00, 'not_in_erp'))
            t(as_of_date, invoice_id, invoice_number, customer_id, currency, warehouse_open, erp_open,
              difference, reason)""")
        [alert] = erp_tie_out(con, night(settings))
        assert erp_tie_out(con, night(settings, published=False)) == []
        assert erp_tie_out(con, night(settings, tie_out_tolerance=Decimal("60"))) == []
    assert alert.subject == "Warehouse and ERP disagree on 2 open invoice(s) at 2026-10-31"
    assert ("- invoice INV-1004 (C2): warehouse 300.00, ERP 250.00, difference 50.00 EUR — amount_differs"
            in alert.body)
    assert alert.facts["difference"] == {"EUR": "50.00", "?": "-10.00"}


def make_digest_marts(con, level="90"):
    con.execute("CREATE SCHEMA IF NOT EXISTS marts")
    con.execute("""CREATE OR REPLACE TABLE marts.fct_overdue_alerts AS SELECT * FROM (VALUES
        (DATE '2026-10-31', 'I2', 'INV-1002', 'C1', 30, DATE '2026-10-31', 'EUR', 1500.00, 30, false, 'medium'),
        (DATE '2026-10-31', 'I3', 'INV-1003', 'C2', 1, DATE '2026-10-31', 'EUR', 600.00, 1, true, 'low'),
        (DATE '2026-10-31', 'I7', 'INV-1007', 'C4', 90, DATE '2026-10-20', 'CHF', 400.00, 101, false, 'high'))
        t(as_of_date, invoice_id, invoice_number, customer_id, threshold_days, first_crossed_date,
          currency, open_amount, days_past_due, disputed, severity)""")
    con.execute(f"""CREATE OR REPLACE TABLE marts.fct_credit_exposure AS SELECT * FROM (VALUES
        ('C1', 'Alpha GmbH', 'EUR', 3800.00, 3500.00, 92.1053, '{level}'),
        ('C2', 'Beta AG', 'EUR', 1000.00, 100.00, 10.0, 'none'))
        t(customer_id, customer_name, currency, credit_limit, exposure, utilization_pct, warning_level)""")


def test_digest_new_overdue_crossings_and_new_credit_warnings(settings):
    with connect(settings) as con:
        make_digest_marts(con)
    run_alert_stage(settings, "run-1", D, published=True)
    [(subject, body)] = rows(settings, "SELECT subject, body FROM audit.alerts WHERE kind = 'digest'")
    assert subject == ("AR digest for 2026-10-31: 2 new overdue crossing(s), "
                       "1 new credit-limit warning(s)")
    assert "New overdue crossings (1 at 30+ days, 1 at 1+ days):" in body
    assert "- INV-1002 (C1): 30+ days past due, open 1,500.00 EUR" in body
    assert "- INV-1003 (C2): 1+ days past due, open 600.00 EUR (disputed)" in body
    assert "INV-1007" not in body  # crossed before this night
    assert ("- Alpha GmbH (C1): 90% warning, utilisation 92.1%, exposure 3,500.00 of limit 3,800.00 EUR"
            in body)

    # The next night: the same crossings and warning are not new; a higher level is.
    with connect(settings) as con:
        make_digest_marts(con, level="100")
        con.execute("UPDATE marts.fct_overdue_alerts SET first_crossed_date = DATE '2026-10-30'")
    run_alert_stage(settings, "run-2", date(2026, 11, 1), published=True)
    digests = rows(settings, "SELECT run_id, subject FROM audit.alerts WHERE kind = 'digest' ORDER BY run_id")
    assert digests[1] == ("run-2", "AR digest for 2026-11-01: 1 new credit-limit warning(s)")

    # The level falls (recorded, nothing to tell), then rises again: that is new again.
    for run, day, level in (("run-3", 2, "none"), ("run-4", 3, "80")):
        with connect(settings) as con:
            make_digest_marts(con, level=level)
            con.execute("UPDATE marts.fct_overdue_alerts SET first_crossed_date = DATE '2026-10-30'")
        run_alert_stage(settings, run, date(2026, 11, day), published=True)
    digests = rows(settings, "SELECT run_id, subject FROM audit.alerts WHERE kind = 'digest' ORDER BY run_id")
    assert [d[0] for d in digests] == ["run-1", "run-2", "run-4"]
    assert rows(settings, "SELECT warning_level FROM audit.credit_warning_levels WHERE customer_id = 'C1'") \
        == [("80",)]


def test_no_digest_when_the_night_did_not_publish_or_the_marts_are_absent(settings):
    with connect(settings) as con:
        assert business_digest(con, night(settings)) == []  # no marts at all
        make_digest_marts(con)
        assert business_digest(con, night(settings, published=False)) == []


def test_a_trigger_that_breaks_becomes_an_alert_and_the_others_still_run(settings, monkeypatch):
    import pipelines.alerts.stage as stage

    def broken(con, night):
        raise RuntimeError("Catalog Error: Table with name fct_x does not exist!")

    monkeypatch.setattr(stage, "TRIGGERS", (broken, *stage.TRIGGERS))
    with connect(settings) as con:
        make_digest_marts(con)
        alerts = evaluate(con, night(settings), None)
    assert [a.kind for a in alerts] == ["alert_trigger_error", "digest"]
    assert alerts[0].subject == "Alert check broken could not run"


@pytest.mark.parametrize("published", [True, False])
def test_an_empty_warehouse_raises_no_trigger_errors(settings, published):
    with connect(settings) as con:
        alerts = evaluate(con, night(settings, published=published), None)
    assert [a.kind for a in alerts] == ([] if published else ["run_failed"])


def test_worklist_rows_left_undecided_are_not_bad_input(settings):
    """A returned worklist with two rows left blank and one bad row: the alert counts the bad
    row only; with the blank rows alone there is no alert (the exceptions simply stay open)."""
    def decisions_file(con, file_hash, rejected, reasons):
        con.execute("INSERT INTO audit.files VALUES (?, 1, 'decisions.csv', 'manual/decisions.csv', "
                    "'manual:decisions', 10, 'loaded', 4, ?, ?, 0, NULL, 'run-1', ?)",
                    [file_hash, 4 - rejected, rejected, NOW])
        for line, reason in reasons:
            con.execute("INSERT INTO audit.rejects VALUES ('run-1', ?, 'manual/decisions.csv', "
                        "'manual:decisions', ?, ?, ?, '{}', ?)",
                        [file_hash, line, f"line {line}", f"manual/decisions.csv, line {line}: {reason}", NOW])

    blank = "no decision filled in (action blank)"
    with connect(settings) as con:
        decisions_file(con, "h1", 2, [(2, blank), (4, blank)])
        assert bad_input(con, night(settings)) == []
        decisions_file(con, "h2", 3, [(2, blank), (3, 'decided_at: expected a date or timestamp (ISO 8601), '
                                                   'found "yesterday"'), (5, blank)])
        [alert] = bad_input(con, night(settings))
    assert alert.subject == "Bad input on the night of 2026-10-31: 1 row(s) rejected in 1 file(s)"
    assert "- manual/decisions.csv: 1 of 4 rows rejected" in alert.body
    assert blank not in alert.body
    assert 'line 3: decided_at: expected a date or timestamp (ISO 8601), found "yesterday"' in alert.body
