"""Alerts at the end of real nights (`arw nightly`, in process), to a webhook and an SMTP
server the test starts on 127.0.0.1.

Night 1 (2026-10-31) publishes; a camt.053 statement whose balances do not add up is
alerted without blocking, open exceptions above the threshold are alerted, and the digest
reports the overdue crossing and the credit-limit warning of the night.
Night 2 (2026-11-01) brings an invoice due before it is issued: the blocking GX check fails,
`arw nightly` exits 1, the published file stays byte-identical, and the alert saying which
check failed and why arrives by webhook and by e-mail.
"""

from pathlib import Path

import duckdb
import pytest

from pipelines.cli import main
from tests.unit.alerts.servers import SmtpServer, WebhookServer

INBOX = {
    "erp/customers.csv": """customer_id,name,country,currency,credit_limit,payment_terms_days,salesperson_id,is_key_account,bank_accounts,aliases,updated_at
C001,Alpha GmbH,DE,EUR,10000,30,S1,true,DE89370400440532013000,,
C002,Beta AG,CH,EUR,,30,S2,false,,,
C003,Gamma SA,FR,EUR,100,30,S2,false,,,
""",
    "erp/salespeople.csv": """salesperson_id,name,team,manager_id
S1,Anna Meier,North,
S2,Ben Okafor,South,S1
""",
    "erp/invoices.csv": """invoice_id,invoice_number,order_id,customer_id,salesperson_id,issue_date,due_date,currency,amount,status,disputed,updated_at
1,INV-001,,C001,,2026-08-01,2026-08-31,EUR,100.00,issued,false,
2,INV-002,,C002,,2026-09-15,2026-10-15,EUR,250.50,issued,false,
3,INV-003,,C002,,2026-10-20,2026-11-19,EUR,80.00,issued,true,
5,INV-005,,C003,,2026-10-01,2026-10-30,EUR,95.00,issued,false,
""",
    "bank/statement_2026-10.csv": """account,booking_date,value_date,amount,currency,counterparty_name,counterparty_account,reference,remittance_info
CH9300762011623852957,2026-10-05,2026-10-05,100.00,EUR,Alpha GmbH,DE89370400440532013000,B1,Invoice INV-001
CH9300762011623852957,2026-10-06,2026-10-06,200.00,EUR,Beta AG,,B2,INV-002 part
CH9300762011623852957,2026-10-07,2026-10-07,55.00,EUR,Unknown,,B3,thanks
""",
    # opening 1000.00 − 15.00 = 985.00, but the bank says 990.00
    "bank/camt053_2026-10.xml": """<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt>
<GrpHdr><MsgId>MSG-OCT</MsgId><CreDtTm>2026-10-31T20:00:00</CreDtTm></GrpHdr>
<Stmt><Id>STMT-2026-10</Id><ElctrncSeqNb>10</ElctrncSeqNb>
<Acct><Id><IBAN>CH9300762011623852957</IBAN></Id><Ccy>EUR</Ccy></Acct>
<Bal><Tp><CdOrPrtry><Cd>OPBD</Cd></CdOrPrtry></Tp><Amt Ccy="EUR">1000.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2026-10-01</Dt></Dt></Bal>
<Bal><Tp><CdOrPrtry><Cd>CLBD</Cd></CdOrPrtry></Tp><Amt Ccy="EUR">990.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2026-10-31</Dt></Dt></Bal>
<Ntry><NtryRef>1</NtryRef><Amt Ccy="EUR">15.00</Amt><CdtDbtInd>DBIT</CdtDbtInd><Sts>BOOK</Sts><BookgDt><Dt>2026-10-30</Dt></BookgDt><ValDt><Dt>2026-10-30</Dt></ValDt><AcctSvcrRef>FEE-2026-10</AcctSvcrRef><BkTxCd><Domn><Cd>PMNT</Cd></Domn></BkTxCd><NtryDtls><TxDtls><RmtInf><Ustrd>Account fee October</Ustrd></RmtInf></TxDtls></NtryDtls></Ntry>
</Stmt></BkToCstmrStmt></Document>
""",
}

BAD_INVOICE = """invoice_id,invoice_number,customer_id,issue_date,due_date,currency,amount,status
4,INV-004,C001,2026-11-01,2026-10-01,EUR,40.00,issued
"""


@pytest.fixture(scope="module")
def receivers():
    webhook, smtp = WebhookServer(), SmtpServer()
    yield webhook, smtp
    webhook.close()
    smtp.close()


@pytest.fixture(scope="module")
def nights(tmp_path_factory, receivers):
    """Both nights, once for the module: (exit codes, stdout of each, webhook bodies per night,
    mails per night, published bytes after night 1 and after night 2)."""
    webhook, smtp = receivers
    base = tmp_path_factory.mktemp("alerts_night")
    inbox, wh = base / "inbox", base / "wh"
    for relative, text in INBOX.items():
        (inbox / relative).parent.mkdir(parents=True, exist_ok=True)
        (inbox / relative).write_text(text, encoding="utf-8")
    env = {
        "ARW_ALERT_WEBHOOK_URL": webhook.url("/services/T0/B0/night-token-0123456789"),
        "ARW_SMTP_HOST": "127.0.0.1", "ARW_SMTP_PORT": str(smtp.port), "ARW_SMTP_TLS": "none",
        "ARW_ALERT_EMAIL_FROM": "arw@example.com",
        "ARW_ALERT_EMAIL_TO": "ar-team@example.com,controller@example.com",
        "ARW_ALERT_RETRY_BACKOFF_SECONDS": "0", "ARW_ALERT_EXCEPTIONS_THRESHOLD": "0",
        "ARW_ALERT_RESEND_UNCHANGED": "false",
    }
    out: dict = {"codes": [], "stdout": [], "hooks": [], "mails": [], "published": []}
    with pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, value)
        mp.delenv("ARW_FAULT_INJECT", raising=False)
        import contextlib
        import io

        for as_of, extra in (("2026-10-31", None), ("2026-11-01", BAD_INVOICE)):
            if extra:
                (inbox / "erp" / "invoices_2026-11-01.csv").write_text(extra, encoding="utf-8")
            seen_hooks, seen_mails = len(webhook.requests), len(smtp.messages)
            buffer = io.StringIO()
            with contextlib.redirect_stdout(buffer):
                code = main(["nightly", "--inbox", str(inbox), "--warehouse-dir", str(wh),
                             "--as-of", as_of])
            out["codes"].append(code)
            out["stdout"].append(buffer.getvalue())
            out["hooks"].append([r.body for r in webhook.requests[seen_hooks:]])
            out["mails"].append(smtp.messages[seen_mails:])
            published = wh / "ar.duckdb"
            out["published"].append(published.read_bytes() if published.exists() else None)
    out["wh"] = wh
    return out


def test_night_one_publishes_and_alerts_without_blocking(nights):
    assert nights["codes"][0] == 0, nights["stdout"][0]
    assert "PUBLISHED" in nights["stdout"][0]
    kinds = sorted(h["kind"] for h in nights["hooks"][0])
    assert kinds == ["digest", "open_exceptions", "statement_balance"]
    by_kind = {h["kind"]: h for h in nights["hooks"][0]}

    statement = by_kind["statement_balance"]
    assert statement["subject"] == ("Bank statement does not add up: bank/camt053_2026-10.xml "
                                    "(statement STMT-2026-10)")
    assert ("statement STMT-2026-10 no. 10 of account CH9300762011623852957: opening 1,000.00 + entries -15.00 = 985.00, closing 990.00 EUR, difference -5.00"
            in statement["text"])
    assert statement["severity"] == "warning" and statement["as_of_date"] == "2026-10-31"

    exceptions = by_kind["open_exceptions"]
    assert exceptions["subject"] == "1 open reconciliation exceptions (threshold 0)"
    assert exceptions["facts"] == {"count": 1, "amount": {"EUR": "55.00"}}

    digest = by_kind["digest"]
    assert digest["subject"] == ("AR digest for 2026-10-31: 1 new overdue crossing(s), "
                                 "1 new credit-limit warning(s)")
    assert "- INV-005 (C003): 1+ days past due, open 95.00 EUR" in digest["text"]
    assert "Gamma SA (C003): 90% warning, utilisation 95.0%" in digest["text"]

    mails = nights["mails"][0]
    assert sorted(m.subject for m in mails) == sorted(
        f"[AR Warehouse] {h['severity'].upper()}: {h['subject']}" for h in nights["hooks"][0])
    assert all(m.rcpt_tos == ["ar-team@example.com", "controller@example.com"] for m in mails)
    assert "Alerts: 3 new (3 sent): " in nights["stdout"][0]


def test_night_two_is_blocked_the_file_kept_and_the_alert_delivered(nights):
    assert nights["codes"][1] == 1, nights["stdout"][1]
    assert nights["published"][1] == nights["published"][0]  # byte-identical
    assert "NOT PUBLISHED" in nights["stdout"][1]

    [hook] = nights["hooks"][1]  # the statement is not told again, no digest for a blocked night
    assert hook["kind"] == "check_failed" and hook["severity"] == "error"
    assert hook["subject"] == ("Night of 2026-11-01 NOT published: check gx_raw_erp_invoices on "
                               "raw/erp_invoices failed")
    assert hook["as_of_date"] == "2026-11-01"
    assert ("expect_column_pair_values_a_to_be_greater_than_b (column_A=due_date, column_B=issue_date, "
            "or_equal=True): 1 of 1 rows, e.g. ['(2026-10-01, 2026-11-01)'] "
            "(erp/invoices_2026-11-01.csv line 2)") in hook["text"]
    assert hook["facts"]["checks"][0]["check"] == "gx_raw_erp_invoices"

    [mail] = nights["mails"][1]
    assert mail.subject == f"[AR Warehouse] ERROR: {hook['subject']}"
    assert mail.rcpt_tos == ["ar-team@example.com", "controller@example.com"]
    assert "erp/invoices_2026-11-01.csv line 2" in mail.text
    assert "Alerts: 1 new (1 sent): check_failed" in nights["stdout"][1]


def test_the_outbox_holds_every_alert_and_no_secret(nights):
    con = duckdb.connect(str(Path(nights["wh"]) / "build.duckdb"), read_only=True)
    try:
        got = con.execute("SELECT as_of_date::VARCHAR, kind, status, webhook_status, email_status "
                          "FROM audit.alerts ORDER BY as_of_date, kind").fetchall()
        text = str(con.execute("SELECT * FROM audit.alerts").fetchall())
    finally:
        con.close()
    assert got == [("2026-10-31", "digest", "sent", "sent", "sent"),
                   ("2026-10-31", "open_exceptions", "sent", "sent", "sent"),
                   ("2026-10-31", "statement_balance", "sent", "sent", "sent"),
                   ("2026-11-01", "check_failed", "sent", "sent", "sent")]
    assert "night-token-0123456789" not in text + "".join(nights["stdout"])
