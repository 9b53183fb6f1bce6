"""The synthetic inbox generator (pipelines/synthetic): contract shape, determinism, bank files
that add up, a truth that matches the files, and the payment mix the matcher is tested on."""

from __future__ import annotations

import csv
import itertools
import re
from collections import Counter, defaultdict
from datetime import date
from decimal import Decimal
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from lxml import etree
from schwifty import IBAN

from pipelines.synthetic.checks import iban_from_bban, is_valid_iban, is_valid_rf, rf_reference
from pipelines.synthetic.combos import count_subsets
from pipelines.synthetic.erp import InvoiceNumbering
from pipelines.synthetic.generator import generate

NS = {"c": "urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"}
END = date(2026, 10, 31)

# CONTRACT §1, written out here rather than imported: the test holds the generator to it.
ERP_HEADERS = {
    "customers.csv": "customer_id,name,country,currency,credit_limit,payment_terms_days,salesperson_id,is_key_account,bank_accounts,aliases,updated_at",
    "salespeople.csv": "salesperson_id,name,team,manager_id",
    "orders.csv": "order_id,customer_id,salesperson_id,order_date,currency,amount,status,updated_at",
    "invoices.csv": "invoice_id,invoice_number,order_id,customer_id,salesperson_id,issue_date,due_date,currency,amount,status,disputed,updated_at",
    "credit_notes.csv": "credit_note_id,invoice_id,customer_id,issue_date,currency,amount",
    "collection_targets.csv": "salesperson_id,period,currency,target_amount",
    "fx_rates.csv": "date,currency,rate_to_reporting",
    "ar_open_items.csv": "as_of_date,invoice_id,open_amount",
}
BANK_CSV_HEADER = "account,booking_date,value_date,amount,currency,counterparty_name,counterparty_account,reference,remittance_info"
AR_EXCLUDED = ("non_ar", "return")
MONEY = re.compile(r"^-?\d+\.\d{2}$")


# --------------------------------------------------------------------------- helpers
def rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def header(path: Path) -> str:
    with path.open(encoding="utf-8") as fh:
        return fh.readline().rstrip("\n")


def camt_files(out: Path) -> list[Path]:
    return sorted((out / "inbox" / "bank").glob("*.xml"))


def bank_records(out: Path) -> dict[str, dict[str, str]]:
    """Every transaction the bank files hold, by the bank's reference (entry AcctSvcrRef, or
    a batch detail's own Refs/AcctSvcrRef, or the CSV/Parquet ``reference``)."""
    found: dict[str, dict[str, str]] = {}
    seen: Counter[str] = Counter()
    for path in camt_files(out):
        doc = etree.parse(str(path))
        for stmt in doc.iterfind(".//c:Stmt", NS):
            account = stmt.findtext("c:Acct/c:Id/c:IBAN", namespaces=NS)
            for ntry in stmt.iterfind("c:Ntry", NS):
                sign = -1 if ntry.findtext("c:CdtDbtInd", namespaces=NS) == "DBIT" else 1
                base = {
                    "account": account,
                    "source_file": path.name,
                    "booking_date": ntry.findtext("c:BookgDt/c:Dt", namespaces=NS),
                    "value_date": ntry.findtext("c:ValDt/c:Dt", namespaces=NS),
                }
                if ntry.find("c:NtryDtls/c:Btch", NS) is not None:
                    for tx in ntry.iterfind("c:NtryDtls/c:TxDtls", NS):
                        ref = tx.findtext("c:Refs/c:AcctSvcrRef", namespaces=NS)
                        amount = (
                            Decimal(tx.findtext("c:AmtDtls/c:TxAmt/c:Amt", namespaces=NS)) * sign
                        )
                        found[ref] = {
                            **base,
                            "amount": str(amount),
                            "remittance": tx.findtext(
                                "c:RmtInf/c:Ustrd", default="", namespaces=NS
                            ),
                        }
                        seen[ref] += 1
                else:
                    ref = ntry.findtext("c:AcctSvcrRef", namespaces=NS)
                    amount = Decimal(ntry.findtext("c:Amt", namespaces=NS)) * sign
                    found[ref] = {
                        **base,
                        "amount": str(amount),
                        "remittance": ntry.findtext(
                            ".//c:RmtInf/c:Ustrd", default="", namespaces=NS
                        ),
                    }
                    seen[ref] += 1
    for path in sorted((out / "inbox" / "bank").glob("*.csv")):
        for row in rows(path):
            found[row["reference"]] = {
                **row,
                "source_file": path.name,
                "remittance": row["remittance_info"],
            }
            seen[row["reference"]] += 1
    for path in sorted((out / "inbox" / "bank").glob("*.parquet")):
        for row in pq.read_table(path).to_pylist():
            ref = row["reference"]
            found[ref] = {
                "account": row["account"],
                "source_file": path.name,
                "booking_date": row["booking_date"].isoformat(),
                "value_date": row["value_date"].isoformat(),
                "amount": str(row["amount"]),
                "remittance": row["remittance_info"],
            }
            seen[ref] += 1
    duplicates = [ref for ref, n in seen.items() if n > 1]
    assert not duplicates, f"bank references used twice: {duplicates[:5]}"
    return found


def eur_rates(out: Path) -> dict[str, Decimal]:
    by_ccy: dict[str, list[Decimal]] = defaultdict(list)
    for row in rows(out / "inbox" / "erp" / "fx_rates.csv"):
        by_ccy[row["currency"]].append(Decimal(row["rate_to_reporting"]))
    return {"EUR": Decimal(1), **{c: sum(v) / len(v) for c, v in by_ccy.items()}}


@pytest.fixture(scope="module")
def default_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """The default size (200 customers, 5,000 invoices): a couple of seconds."""
    out = tmp_path_factory.mktemp("default") / "out"
    return out, generate(out)


@pytest.fixture(scope="module")
def small_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("small") / "out"
    generate(out, customers=40, invoices=800, seed=7)
    return out


# --------------------------------------------------------------------------- determinism and shape
def test_same_arguments_give_identical_bytes(tmp_path: Path, small_run: Path) -> None:
    again = tmp_path / "again"
    generate(again, customers=40, invoices=800, seed=7)
    files = sorted(p.relative_to(small_run) for p in small_run.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file())
    assert len(files) > 20
    for rel in files:
        assert (small_run / rel).read_bytes() == (again / rel).read_bytes(), rel

    other = tmp_path / "other"
    generate(other, customers=40, invoices=800, seed=8)
    assert (other / "inbox/erp/invoices.csv").read_bytes() != (
        small_run / "inbox/erp/invoices.csv"
    ).read_bytes()


def test_inbox_layout_and_contract_columns(default_run: tuple[Path, dict]) -> None:
    out, _ = default_run
    inbox = out / "inbox"
    assert sorted(p.name for p in inbox.iterdir()) == ["bank", "erp", "manual"]
    assert list((inbox / "manual").iterdir()) == []
    assert sorted(p.name for p in (inbox / "erp").iterdir()) == sorted(ERP_HEADERS)
    for name, expected in ERP_HEADERS.items():
        assert header(inbox / "erp" / name) == expected, name
    csvs = sorted((inbox / "bank").glob("*.csv"))
    assert csvs and camt_files(out)
    for path in csvs:
        assert header(path) == BANK_CSV_HEADER, path.name
    assert not list(out.glob("inbox/truth")) and (out / "truth" / "payments.csv").exists()


def test_erp_values_are_well_formed(default_run: tuple[Path, dict]) -> None:
    out, _ = default_run
    erp = out / "inbox" / "erp"
    customers = rows(erp / "customers.csv")
    invoices = rows(erp / "invoices.csv")
    salespeople = {r["salesperson_id"] for r in rows(erp / "salespeople.csv")}
    assert 10 <= len(salespeople) <= 20
    assert len(customers) == 200 and len(invoices) == 5000
    assert {c["currency"] for c in customers} == {"EUR", "USD", "CHF"}
    assert {c["payment_terms_days"] for c in customers} <= {"14", "30", "45", "60"}
    assert any(c["credit_limit"] == "" for c in customers)
    assert all(c["credit_limit"] == "" or MONEY.match(c["credit_limit"]) for c in customers)
    assert {c["is_key_account"] for c in customers} == {"true", "false"}
    assert all(c["salesperson_id"] in salespeople for c in customers)
    n_accounts = Counter(len([a for a in c["bank_accounts"].split(";") if a]) for c in customers)
    assert n_accounts[0] and n_accounts[1] and n_accounts[2]
    assert sum(1 for c in customers if c["aliases"]) >= 20
    # near-duplicate names: the same words, another legal form
    bases = Counter(c["name"].rsplit(" ", 1)[0] for c in customers)
    assert any(n >= 2 for n in bases.values())

    ids = [i["invoice_id"] for i in invoices]
    numbers = [i["invoice_number"] for i in invoices]
    assert len(set(ids)) == len(ids) and len(set(numbers)) == len(numbers)
    assert not set(ids) & set(numbers)
    assert all(re.fullmatch(r"INV-20\d\d-\d{6}", n) for n in numbers)
    assert all(MONEY.match(i["amount"]) and Decimal(i["amount"]) > 0 for i in invoices)
    assert Counter(i["status"] for i in invoices).keys() == {"issued", "cancelled"}
    assert any(i["disputed"] == "true" for i in invoices)
    assert any(i["salesperson_id"] == "" for i in invoices) and any(
        i["salesperson_id"] for i in invoices
    )
    currency_of = {c["customer_id"]: c["currency"] for c in customers}
    assert all(i["currency"] == currency_of[i["customer_id"]] for i in invoices)
    first, last = min(i["issue_date"] for i in invoices), max(i["issue_date"] for i in invoices)
    assert (date.fromisoformat(last) - date.fromisoformat(first)).days >= 365

    statuses = Counter(o["status"] for o in rows(erp / "orders.csv"))
    assert statuses["invoiced"] and statuses["open"] and statuses["cancelled"]
    credit_notes = rows(erp / "credit_notes.csv")
    assert any(cn["invoice_id"] == "" for cn in credit_notes) and any(
        cn["invoice_id"] for cn in credit_notes
    )
    targets = rows(erp / "collection_targets.csv")
    assert targets and all(re.fullmatch(r"\d{4}-\d{2}", t["period"]) for t in targets)
    assert {r["currency"] for r in rows(erp / "fx_rates.csv")} == {"USD", "CHF"}


def test_nothing_is_dated_after_the_end_date(default_run: tuple[Path, dict]) -> None:
    out, _ = default_run
    end = END.isoformat()
    date_columns = {
        "customers.csv": ["updated_at"],
        "orders.csv": ["order_date", "updated_at"],
        "invoices.csv": ["issue_date", "updated_at"],  # due_date lies ahead by nature
        "credit_notes.csv": ["issue_date"],
        "fx_rates.csv": ["date"],
        "ar_open_items.csv": ["as_of_date"],
    }
    for name, columns in date_columns.items():
        for row in rows(out / "inbox" / "erp" / name):
            for col in columns:
                assert row[col][:10] <= end, (name, col, row[col])
    assert max(r["period"] for r in rows(out / "inbox/erp/collection_targets.csv")) <= end[:7]
    for row in rows(out / "truth" / "payments.csv"):
        assert row["booking_date"] <= end and row["value_date"] <= end
    for path in camt_files(out):
        text = path.read_text(encoding="utf-8")
        for value in re.findall(r"<(?:Dt|CreDtTm|FrDtTm|ToDtTm)>([^<]+)<", text):
            assert value[:10] <= end, (path.name, value)
    for path in (out / "inbox" / "bank").glob("*.csv"):
        for row in rows(path):
            assert row["booking_date"] <= end and row["value_date"] <= end


# --------------------------------------------------------------------------- bank files
def test_camt_statements_parse_and_balances_add_up(default_run: tuple[Path, dict]) -> None:
    out, _ = default_run
    seq_by_account: dict[str, list[int]] = defaultdict(list)
    refs: Counter[str] = Counter()
    n_batches = n_reversals = 0
    for path in camt_files(out):
        doc = etree.parse(str(path))
        assert doc.getroot().tag == "{urn:iso:std:iso:20022:tech:xsd:camt.053.001.02}Document"
        assert doc.findtext("c:BkToCstmrStmt/c:GrpHdr/c:MsgId", namespaces=NS)
        for stmt in doc.iterfind(".//c:Stmt", NS):
            iban = stmt.findtext("c:Acct/c:Id/c:IBAN", namespaces=NS)
            ccy = stmt.findtext("c:Acct/c:Ccy", namespaces=NS)
            assert stmt.findtext("c:Id", namespaces=NS) and is_valid_iban(iban)
            seq_by_account[iban].append(int(stmt.findtext("c:ElctrncSeqNb", namespaces=NS)))
            balances = {}
            for bal in stmt.iterfind("c:Bal", NS):
                sign = 1 if bal.findtext("c:CdtDbtInd", namespaces=NS) == "CRDT" else -1
                code = bal.findtext("c:Tp/c:CdOrPrtry/c:Cd", namespaces=NS)
                assert bal.find("c:Amt", NS).get("Ccy") == ccy
                balances[code] = sign * Decimal(bal.findtext("c:Amt", namespaces=NS))
            total = Decimal(0)
            for ntry in stmt.iterfind("c:Ntry", NS):
                amt = ntry.find("c:Amt", NS)
                assert amt.get("Ccy") == ccy and re.fullmatch(r"\d+\.\d{2}", amt.text)
                sign = {"CRDT": 1, "DBIT": -1}[ntry.findtext("c:CdtDbtInd", namespaces=NS)]
                total += sign * Decimal(amt.text)
                assert ntry.findtext("c:Sts", namespaces=NS) == "BOOK"
                assert ntry.findtext("c:BookgDt/c:Dt", namespaces=NS) and ntry.findtext(
                    "c:ValDt/c:Dt", namespaces=NS
                )
                assert ntry.find("c:BkTxCd/c:Domn/c:Fmly/c:SubFmlyCd", NS) is not None
                refs[ntry.findtext("c:AcctSvcrRef", namespaces=NS)] += 1
                batch = ntry.find("c:NtryDtls/c:Btch", NS)
                if batch is not None:
                    n_batches += 1
                    details = ntry.findall("c:NtryDtls/c:TxDtls", NS)
                    assert int(batch.findtext("c:NbOfTxs", namespaces=NS)) == len(details) >= 2
                    assert sum(
                        Decimal(d.findtext("c:AmtDtls/c:TxAmt/c:Amt", namespaces=NS))
                        for d in details
                    ) == Decimal(amt.text)
                    for d in details:
                        refs[d.findtext("c:Refs/c:AcctSvcrRef", namespaces=NS)] += 1
                        assert d.findtext("c:RltdPties/c:Dbtr/c:Nm", namespaces=NS)
                if ntry.findtext("c:RvslInd", namespaces=NS) == "true":
                    n_reversals += 1
                    assert sign == -1
                    assert ntry.findtext(".//c:RtrInf/c:Rsn/c:Cd", namespaces=NS) in {
                        "AC04",
                        "AC06",
                        "AM04",
                        "MD06",
                        "MS02",
                        "FOCR",
                    }
                    assert ntry.findtext(".//c:Refs/c:EndToEndId", namespaces=NS) not in (
                        None,
                        "NOTPROVIDED",
                    )
            assert balances["OPBD"] + total == balances["CLBD"], path.name
    assert n_batches >= 5 and n_reversals >= 5
    assert refs and max(refs.values()) == 1
    for iban, seqs in seq_by_account.items():  # continuous from file to file
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), iban
        assert len(seqs) == 18


def test_statement_balances_carry_over_month_to_month(default_run: tuple[Path, dict]) -> None:
    out, _ = default_run
    by_account: dict[str, list[tuple[str, Decimal, Decimal]]] = defaultdict(list)
    for path in camt_files(out):
        stmt = etree.parse(str(path)).find(".//c:Stmt", NS)
        bal = {
            b.findtext("c:Tp/c:CdOrPrtry/c:Cd", namespaces=NS): Decimal(
                b.findtext("c:Amt", namespaces=NS)
            )
            * (1 if b.findtext("c:CdtDbtInd", namespaces=NS) == "CRDT" else -1)
            for b in stmt.iterfind("c:Bal", NS)
        }
        by_account[stmt.findtext("c:Acct/c:Id/c:IBAN", namespaces=NS)].append(
            (path.name, bal["OPBD"], bal["CLBD"])
        )
    for statements in by_account.values():
        statements.sort()
        for (_, _, closing), (_, opening, _) in itertools.pairwise(statements):
            assert opening == closing


def test_every_truth_payment_is_in_the_bank_files_exactly_once(
    default_run: tuple[Path, dict],
) -> None:
    out, _ = default_run
    records = bank_records(out)
    truth = rows(out / "truth" / "payments.csv")
    refs = [t["payment_ref"] for t in truth]
    assert len(set(refs)) == len(refs)
    for t in truth:
        rec = records[t["payment_ref"]]
        assert rec["source_file"] == t["source_file"]
        assert rec["account"] == t["account"]
        assert Decimal(rec["amount"]) == Decimal(t["amount"])
        assert rec["booking_date"] == t["booking_date"] and rec["value_date"] == t["value_date"]
    # and every credit in the files is in the truth (outgoing payments and charges are not)
    credits = {ref for ref, rec in records.items() if Decimal(rec["amount"]) > 0}
    assert credits == {t["payment_ref"] for t in truth if Decimal(t["amount"]) > 0}


# --------------------------------------------------------------------------- the payment mix
def test_payment_mix_shares(default_run: tuple[Path, dict]) -> None:
    out, summary = default_run
    truth = rows(out / "truth" / "payments.csv")
    invoices_per_payment = Counter(
        a["payment_ref"]
        for a in rows(out / "truth" / "allocations.csv")
        if Decimal(a["amount"]) > 0
    )
    rate = eur_rates(out)
    ar = [t for t in truth if t["category"] not in AR_EXCLUDED]
    eur = {t["payment_ref"]: Decimal(t["amount"]) * rate[t["currency"]] for t in ar}
    total = sum(eur.values())

    def shares(selected: list[dict[str, str]]) -> tuple[float, float]:
        return len(selected) / len(ar), float(sum(eur[t["payment_ref"]] for t in selected) / total)

    no_ref = shares([t for t in ar if t["reference_style"] == "none"])
    multi = shares([t for t in ar if invoices_per_payment[t["payment_ref"]] >= 2])
    assert no_ref[0] >= 0.15 and no_ref[1] >= 0.15, no_ref
    assert multi[0] >= 0.05 and multi[1] >= 0.05, multi
    assert abs(summary["shares"]["no_reference_amount"] - no_ref[1]) < 0.01

    categories = Counter(t["category"] for t in truth)
    for category, at_least in {
        "invoice_payment": 1000, "multi_invoice": 100, "partial": 50, "partial_rest": 30,
        "fee_short": 50, "overpayment": 20, "third_party": 30, "unknown_payer": 20,
        "non_ar": 10, "returned": 10,
    }.items():  # fmt: skip
        assert categories[category] >= at_least, (category, categories[category])
    assert categories["return"] == categories["returned"]
    styles = Counter(t["reference_style"] for t in ar)
    for style in ("exact", "variant", "typo", "rf_reference", "none"):
        assert styles[style] >= 20, styles
    reasons = Counter(t["matchable_reason"] for t in truth)
    for reason in (
        "payer_and_amount_unique",
        "amount_ambiguous",
        "payer_not_identified",
        "reference_to_open_invoice",
        "rf_reference_to_open_invoice",
    ):
        assert reasons[reason] >= 5, reasons
    details = Counter(t["reference_detail"].split("_")[0] for t in ar)
    assert details["sentence"] and details["lower"] and details["separators"] and details["list"]


def test_payers_the_matcher_must_cope_with(default_run: tuple[Path, dict]) -> None:
    out, _ = default_run
    customers = rows(out / "inbox" / "erp" / "customers.csv")
    accounts = {a: c["customer_id"] for c in customers for a in c["bank_accounts"].split(";") if a}
    names = {
        n.casefold(): c["customer_id"]
        for c in customers
        for n in [c["name"], *c["aliases"].split(";")]
        if n
    }
    truth = rows(out / "truth" / "payments.csv")
    ar = [t for t in truth if t["category"] not in AR_EXCLUDED]

    third = [t for t in ar if t["category"] == "third_party"]
    assert all(
        t["counterparty_account"] not in accounts and t["counterparty_name"].casefold() not in names
        for t in third
    )
    assert all(t["reference_style"] != "none" for t in third)
    unknown = [t for t in ar if t["category"] == "unknown_payer"]
    assert all(
        t["counterparty_account"] not in accounts and t["matchable"] == "false" for t in unknown
    )
    # customers paying from an account not in master data, found by their name
    assert (
        sum(
            1
            for t in ar
            if t["payer_customer_id"]
            and t["counterparty_account"] not in accounts
            and t["payer_identified_by"] == "name"
        )
        >= 10
    )
    # names with typos or without legal form: neither account nor name identifies them
    assert (
        sum(1 for t in ar if t["category"] == "invoice_payment" and t["payer_identified_by"] == "")
        >= 10
    )
    # alias / trading names
    alias_names = {a.casefold() for c in customers for a in c["aliases"].split(";") if a}
    assert sum(1 for t in ar if t["counterparty_name"].casefold() in alias_names) >= 10
    for t in ar:
        if t["payer_identified_by"] == "account":
            assert accounts[t["counterparty_account"]] == t["payer_customer_id"]
    # several open invoices of the same amount for one customer
    invoices = {i["invoice_id"]: i for i in rows(out / "inbox" / "erp" / "invoices.csv")}
    same = Counter(
        (invoices[o["invoice_id"]]["customer_id"], o["open_amount"])
        for o in rows(out / "inbox" / "erp" / "ar_open_items.csv")
    )
    assert max(same.values()) >= 2


def test_late_early_and_never_paid(default_run: tuple[Path, dict]) -> None:
    out, _ = default_run
    invoices = {i["invoice_number"]: i for i in rows(out / "inbox" / "erp" / "invoices.csv")}
    value_date = {t["payment_ref"]: t["value_date"] for t in rows(out / "truth" / "payments.csv")}
    paid = [
        (value_date[a["payment_ref"]], invoices[a["invoice_number"]])
        for a in rows(out / "truth" / "allocations.csv")
        if Decimal(a["amount"]) > 0
    ]
    late = sum(1 for v, inv in paid if v > inv["due_date"])
    early = sum(1 for v, inv in paid if v < inv["due_date"])
    assert late > 0.2 * len(paid) and early > 0.1 * len(paid)
    assert all(v > inv["issue_date"] for v, inv in paid)  # payments follow invoices
    by_id = invoices_by_id(out)
    open_items = rows(out / "inbox" / "erp" / "ar_open_items.csv")
    overdue_by_half_a_year = [
        o for o in open_items if by_id[o["invoice_id"]]["due_date"] < "2026-04-30"
    ]
    assert overdue_by_half_a_year  # some never paid


def invoices_by_id(out: Path) -> dict[str, dict[str, str]]:
    return {i["invoice_id"]: i for i in rows(out / "inbox" / "erp" / "invoices.csv")}


# --------------------------------------------------------------------------- references and truth
def test_remittance_matches_the_reference_style(default_run: tuple[Path, dict]) -> None:
    out, _ = default_run
    numbering = InvoiceNumbering.parse("INV-{year}-{seq:06d}")
    invoices = {i["invoice_number"]: i for i in rows(out / "inbox" / "erp" / "invoices.csv")}
    paid_by: dict[str, list[str]] = defaultdict(list)
    for a in rows(out / "truth" / "allocations.csv"):
        if Decimal(a["amount"]) > 0:
            paid_by[a["payment_ref"]].append(a["invoice_number"])
    records = bank_records(out)
    for t in rows(out / "truth" / "payments.csv"):
        if t["category"] in AR_EXCLUDED:
            continue
        text = records[t["payment_ref"]]["remittance"] or ""
        numbers = paid_by[t["payment_ref"]]
        style = t["reference_style"]
        if style == "none":
            assert not re.search(r"\d", text) and not t["structured_reference"], text
        elif style == "exact":
            assert all(n in text for n in numbers), (text, numbers)
        elif style == "rf_reference":
            assert t["structured_reference"] == rf_reference(numbers[0].replace("-", ""))
            assert numbers[0] not in text
        elif style == "variant":
            for n in numbers:
                year, seq = n.split("-")[1:]
                runs = re.findall(r"\d+", text)
                assert (
                    any(a == year and int(b) == int(seq) for a, b in itertools.pairwise(runs))
                    or f"{year}{seq}" in runs
                ), (text, n)
                # the printed number itself only where a sentence or list embeds it unchanged
                assert n not in text or t["reference_detail"] in ("sentence_exact", "list_exact")
        elif style == "typo":
            (n,) = numbers
            year, seq = n.split("-")[1:]
            assert n not in text and f"{year}{seq}" not in text.replace("-", "").replace(" ", "")
            assert numbering.key(int(year), int(seq)) in invoices_keys(invoices, numbering)


def invoices_keys(invoices: dict[str, dict[str, str]], numbering: InvoiceNumbering) -> set[int]:
    return {numbering.key(int(n.split("-")[1]), int(n.split("-")[2])) for n in invoices}


def test_allocations_never_exceed_invoice_amounts(default_run: tuple[Path, dict]) -> None:
    out, _ = default_run
    invoices = {i["invoice_id"]: i for i in rows(out / "inbox" / "erp" / "invoices.csv")}
    credited: Counter[str] = Counter()
    for cn in rows(out / "inbox" / "erp" / "credit_notes.csv"):
        if cn["invoice_id"]:
            credited[cn["invoice_id"]] += Decimal(cn["amount"])
    settled: Counter[str] = Counter()
    by_payment: Counter[str] = Counter()
    for a in rows(out / "truth" / "allocations.csv"):
        amount, fee, over = (Decimal(a[c]) for c in ("amount", "fee_amount", "on_account_amount"))
        inv = invoices[a["invoice_id"]]
        assert inv["invoice_number"] == a["invoice_number"] and inv["status"] == "issued"
        assert abs(amount) <= Decimal(inv["amount"])
        settled[a["invoice_id"]] += amount + fee
        by_payment[a["payment_ref"]] += amount + over
    for invoice_id, total in settled.items():
        assert 0 <= total <= Decimal(invoices[invoice_id]["amount"]) - credited[invoice_id]
    truth = {t["payment_ref"]: t for t in rows(out / "truth" / "payments.csv")}
    for ref, total in by_payment.items():  # a payment's allocations and remainder are its amount
        assert total == Decimal(truth[ref]["amount"]), ref
    open_items = {
        o["invoice_id"]: Decimal(o["open_amount"])
        for o in rows(out / "inbox" / "erp" / "ar_open_items.csv")
    }
    for invoice_id, inv in invoices.items():
        if inv["status"] == "issued":
            expected = Decimal(inv["amount"]) - credited[invoice_id] - settled[invoice_id]
            assert open_items.get(invoice_id, Decimal(0)) == expected


def test_returns_reverse_their_payment(default_run: tuple[Path, dict]) -> None:
    out, _ = default_run
    truth = {t["payment_ref"]: t for t in rows(out / "truth" / "payments.csv")}
    allocations: dict[str, list[tuple[str, Decimal]]] = defaultdict(list)
    for a in rows(out / "truth" / "allocations.csv"):
        allocations[a["payment_ref"]].append((a["invoice_id"], Decimal(a["amount"])))
    returns = [t for t in truth.values() if t["category"] == "return"]
    assert returns
    for r in returns:
        original = truth[r["reversal_of"]]
        assert original["category"] == "returned" and original["reversed_by"] == r["payment_ref"]
        assert (
            Decimal(r["amount"]) == -Decimal(original["amount"])
            and r["account"] == original["account"]
        )
        assert r["value_date"] > original["value_date"] and r["return_reason"]
        assert sorted((i, -a) for i, a in allocations[r["payment_ref"]]) == sorted(
            allocations[original["payment_ref"]]
        )


def test_matchable_rules_hold(default_run: tuple[Path, dict]) -> None:
    out, _ = default_run
    truth = rows(out / "truth" / "payments.csv")
    invoices = invoices_by_id(out)
    paid: dict[str, list[dict[str, str]]] = defaultdict(list)
    for a in rows(out / "truth" / "allocations.csv"):
        paid[a["payment_ref"]].append(a)
    for t in truth:
        if t["category"] == "non_ar":
            assert t["matchable"] == "false" and t["payer_customer_id"] == ""
        if t["category"] == "unknown_payer" or (
            t["reference_style"] == "none" and t["payer_identified_by"] == ""
        ):
            assert t["matchable"] == "false"
        if t["reference_style"] == "none" and t["matchable"] == "true":
            assert t["matchable_reason"] == "payer_and_amount_unique"
            lines = paid[t["payment_ref"]]
            assert 1 <= len(lines) <= 4
            assert all(
                invoices[a["invoice_id"]]["customer_id"] == t["payer_customer_id"] for a in lines
            )
            assert sum(Decimal(a["amount"]) for a in lines) == Decimal(t["amount"])
            assert all(
                a["fee_amount"] == "0.00" and a["on_account_amount"] == "0.00" for a in lines
            )
        if t["matchable_reason"] == "typo_is_another_invoice_number":
            assert t["matchable"] == "false"
    assert Counter(t["matchable"] for t in truth)["true"] > 0.7 * len(truth)


def test_check_digits() -> None:
    assert iban_from_bban("DE", "370400440532013000") == "DE89370400440532013000"
    assert iban_from_bban("GB", "WEST12345698765432") == "GB82WEST12345698765432"
    assert is_valid_iban("CH93 0076 2011 6238 5295 7")
    assert not is_valid_iban("DE89370400440532013001")
    assert rf_reference("539007547034") == "RF18539007547034"  # the ISO 11649 example
    assert is_valid_rf("RF18 5390 0754 7034") and not is_valid_rf("RF19539007547034")
    with pytest.raises(ValueError):
        rf_reference("A" * 22)


def test_every_iban_and_rf_reference_is_valid(default_run: tuple[Path, dict]) -> None:
    out, _ = default_run
    ibans = {
        a for c in rows(out / "inbox/erp/customers.csv") for a in c["bank_accounts"].split(";") if a
    }
    truth = rows(out / "truth" / "payments.csv")
    ibans |= {t["counterparty_account"] for t in truth if t["counterparty_account"]}
    ibans |= {t["account"] for t in truth}
    for path in camt_files(out):
        ibans |= set(re.findall(r"<IBAN>([^<]+)</IBAN>", path.read_text(encoding="utf-8")))
    assert len(ibans) > 200
    for iban in sorted(ibans):
        assert is_valid_iban(iban), iban
        IBAN(iban)  # schwifty: length, format and check digits per country
    refs = [t["structured_reference"] for t in truth if t["structured_reference"]]
    for path in camt_files(out):
        refs += re.findall(r"<CdtrRefInf>.*?<Ref>([^<]+)</Ref>", path.read_text(encoding="utf-8"))
    assert len(refs) >= 40 and all(is_valid_rf(r) for r in refs)


def test_count_subsets_against_brute_force() -> None:
    rng = np.random.default_rng(3)
    for _ in range(400):
        values = rng.integers(1, 25, int(rng.integers(0, 11)))
        target = int(rng.integers(1, 70))
        for size in (1, 2, 3, 4):
            brute = sum(
                1
                for k in range(1, size + 1)
                for combo in itertools.combinations(range(len(values)), k)
                if sum(values[list(combo)]) == target
            )
            assert count_subsets(values, target, max_size=size, limit=10**9) == brute
            assert min(count_subsets(values, target, max_size=size, limit=2), 2) == min(brute, 2)
    assert count_subsets(np.array([500, 500, 1000]), 1000) == 2  # two equal invoices: ambiguous


# --------------------------------------------------------------------------- options
@pytest.mark.parametrize(
    "bank_format, suffix", [("camt", ".xml"), ("csv", ".csv"), ("parquet", ".parquet")]
)
def test_bank_formats(tmp_path: Path, bank_format: str, suffix: str) -> None:
    out = tmp_path / bank_format
    generate(out, customers=20, invoices=300, seed=3, bank_format=bank_format)
    files = sorted((out / "inbox" / "bank").iterdir())
    assert files and {p.suffix for p in files} == {suffix}
    if bank_format == "parquet":
        table = pq.read_table(files[0])
        assert table.column_names == BANK_CSV_HEADER.split(",")
        assert str(table.schema.field("amount").type) == "decimal128(18, 2)"
        assert str(table.schema.field("booking_date").type) == "date32[day]"
    records = bank_records(out)
    truth = rows(out / "truth" / "payments.csv")
    assert truth and all(
        Decimal(records[t["payment_ref"]]["amount"]) == Decimal(t["amount"]) for t in truth
    )


def test_invoice_number_format_is_a_parameter(tmp_path: Path) -> None:
    out = tmp_path / "re"
    generate(out, customers=15, invoices=200, seed=5, invoice_number_format="RE{year}{seq:05d}")
    numbers = [i["invoice_number"] for i in rows(out / "inbox/erp/invoices.csv")]
    assert all(re.fullmatch(r"RE20\d\d\d{5}", n) for n in numbers)
    with pytest.raises(ValueError, match="invoice_number_format"):
        generate(tmp_path / "bad", invoice_number_format="{customer}-{seq}")
    with pytest.raises(ValueError, match="bank_format"):
        generate(tmp_path / "bad", bank_format="mt940")


def test_refuses_a_non_empty_output(tmp_path: Path) -> None:
    (tmp_path / "inbox").mkdir()
    (tmp_path / "inbox" / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError):
        generate(tmp_path, customers=10, invoices=50)
    assert (tmp_path / "inbox" / "keep.txt").read_text() == "mine"


def test_summary_counts_match_the_files(default_run: tuple[Path, dict]) -> None:
    out, summary = default_run
    erp = out / "inbox" / "erp"
    for name in (
        "customers",
        "salespeople",
        "orders",
        "invoices",
        "credit_notes",
        "collection_targets",
        "fx_rates",
        "ar_open_items",
    ):
        assert summary[name] == len(rows(erp / f"{name}.csv")), name
    truth = rows(out / "truth" / "payments.csv")
    assert summary["ar_payments"] == sum(1 for t in truth if t["category"] not in AR_EXCLUDED)
    assert summary["bank_files"] == len(list((out / "inbox" / "bank").iterdir()))
    by_category = Counter(t["category"] for t in truth)
    assert {c: v["count"] for c, v in summary["payments_by_category"].items()} == dict(by_category)


def test_matchable_recomputed_independently(default_run: tuple[Path, dict]) -> None:
    """Re-derive ``matchable`` from the files alone (brute force where it is small) and compare.

    The ideal matcher: payments in value-date order, each against the state at the start of
    its day (credit notes and reversals of that day applied); it applies the matchable
    payments correctly (fee write-offs too) and nothing else.
    """
    out, _ = default_run
    erp = out / "inbox" / "erp"
    customers = rows(erp / "customers.csv")
    by_account = {
        a: c["customer_id"] for c in customers for a in c["bank_accounts"].split(";") if a
    }
    by_name: dict[str, str] = {}
    for c in customers:
        for n in [c["name"], *c["aliases"].split(";")]:
            if n:
                by_name[" ".join(n.casefold().split())] = c["customer_id"]
    invoices = {i["invoice_id"]: i for i in rows(erp / "invoices.csv")}
    view = {
        i: (Decimal(v["amount"]) if v["status"] == "issued" else Decimal(0))
        for i, v in invoices.items()
    }
    events: dict[str, list[tuple[str, Decimal]]] = defaultdict(list)
    for cn in rows(erp / "credit_notes.csv"):
        if cn["invoice_id"]:
            events[cn["issue_date"]].append((cn["invoice_id"], -Decimal(cn["amount"])))
    truth = rows(out / "truth" / "payments.csv")
    lines: dict[str, list[dict[str, str]]] = defaultdict(list)
    for a in rows(out / "truth" / "allocations.csv"):
        lines[a["payment_ref"]].append(a)
    by_ref = {t["payment_ref"]: t for t in truth}
    for t in truth:
        if t["category"] == "return" and by_ref[t["reversal_of"]]["matchable"] == "true":
            for a in lines[t["payment_ref"]]:
                events[t["value_date"]].append(
                    (a["invoice_id"], -Decimal(a["amount"]) - Decimal(a["fee_amount"]))
                )

    payments = sorted(
        (t for t in truth if t["category"] not in AR_EXCLUDED), key=lambda t: t["value_date"]
    )
    applied_until = ""
    checked = Counter()
    for day, group in itertools.groupby(payments, key=lambda t: t["value_date"]):
        for event_day in sorted(d for d in events if applied_until < d <= day):
            for invoice_id, delta in events[event_day]:
                view[invoice_id] += delta
        applied_until = day
        group = list(group)
        for t in group:
            paid = [
                (
                    a["invoice_id"],
                    Decimal(a["amount"]),
                    Decimal(a["fee_amount"]),
                    Decimal(a["on_account_amount"]),
                )
                for a in lines[t["payment_ref"]]
            ]
            amount = Decimal(t["amount"])
            style = t["reference_style"]
            if style in ("exact", "variant", "rf_reference"):
                if len(paid) == 1:
                    inv_id, alloc, _, _ = paid[0]
                    expected = view[inv_id] > 0 and min(amount, view[inv_id]) == alloc
                else:
                    expected = all(view[i] == a and f == 0 for i, a, f, _ in paid)
            elif style == "none":
                payer = by_account.get(t["counterparty_account"]) or by_name.get(
                    " ".join(t["counterparty_name"].casefold().split())
                )
                expected = _amount_only_expected(payer, t, paid, view, invoices, day)
                if expected is None:
                    continue  # too many for brute force here; count_subsets has its own test
            else:
                continue  # typo: the typed number is only in the remittance text
            assert (t["matchable"] == "true") == expected, t
            checked[style] += 1
        for t in group:
            if t["matchable"] == "true":
                for a in lines[t["payment_ref"]]:
                    view[a["invoice_id"]] -= Decimal(a["amount"]) + Decimal(a["fee_amount"])
    assert checked["none"] > 300 and checked["exact"] > 500, checked


def _amount_only_expected(
    payer: str | None,
    t: dict[str, str],
    paid: list[tuple[str, Decimal, Decimal, Decimal]],
    view: dict[str, Decimal],
    invoices: dict[str, dict[str, str]],
    day: str,
) -> bool | None:
    """Matchable by payer and amount (brute force); None when too many to enumerate."""
    amount = Decimal(t["amount"])
    true_set_is_open_in_full = (
        len(paid) <= 4
        and not any(f or o for _, _, f, o in paid)
        and all(view[i] == a for i, a, _, _ in paid)
        and sum(a for _, a, _, _ in paid) == amount
    )
    if payer != t["payer_customer_id"] or not true_set_is_open_in_full:
        return False
    candidates = [
        v
        for i, v in view.items()
        if v > 0 and invoices[i]["customer_id"] == payer and invoices[i]["issue_date"] <= day
    ]
    if len(candidates) > 200:
        return False
    small = [v for v in candidates if v <= amount]
    if len(small) > 24:
        return None
    hits = sum(
        1 for k in range(1, 5) for combo in itertools.combinations(small, k) if sum(combo) == amount
    )
    return hits == 1
