"""Bank statements: the company's accounts, every booked entry (incoming payments, returns,
non-AR credits, outgoing payments, charges), batch entries, the bank's references, and the
writers (camt.053.001.02 XML, generic CSV, Parquet)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.synthetic import words
from pipelines.synthetic.checks import iban_from_bban
from pipelines.synthetic.fmt import iso_dates, money, money1, table, text, write_csv
from pipelines.synthetic.master import IbanFactory
from pipelines.synthetic.payments import PaymentPlan

COMPANY = "ARW Demo Industries GmbH"
CAMT_NS = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"
CSV_HEADER = (
    "account",
    "booking_date",
    "value_date",
    "amount",
    "currency",
    "counterparty_name",
    "counterparty_account",
    "reference",
    "remittance_info",
)
BANK_FORMATS = ("mixed", "camt", "csv", "parquet")


@dataclass(frozen=True)
class OurAccount:
    key: str
    iban: str
    currency: str
    bank: str
    bic: str
    ref_prefix: str
    mixed_format: str  # the format of this account's statements in the "mixed" inbox


ACCOUNTS: tuple[OurAccount, ...] = (
    OurAccount("EUR_MAIN", iban_from_bban("DE", "290517000048151623"), "EUR", "Nordbank AG", "NORDDEH1XXX", "NB", "camt"),
    OurAccount("USD", iban_from_bban("DE", "290517000048151631"), "USD", "Nordbank AG", "NORDDEH1XXX", "NU", "camt"),
    OurAccount("EUR_2", iban_from_bban("AT", "2081500012345678"), "EUR", "Alpenbank AG", "ALPBAT2SXXX", "AB", "csv"),
    OurAccount("CHF", iban_from_bban("CH", "00762011623852957"), "CHF", "Helvetia Privatbank AG", "HELVCHZZXXX", "HP", "csv"),
)  # fmt: skip
ACCOUNT_INDEX = {a.key: i for i, a in enumerate(ACCOUNTS)}
TAX_OFFICE = ("Finanzamt Musterstadt", iban_from_bban("DE", "700000000070001506"))

# bank transaction codes (ISO 20022 domain / family / sub-family)
BTC_SCT_IN = ("PMNT", "RCDT", "ESCT")
BTC_WIRE_IN = ("PMNT", "RCDT", "XBCT")
BTC_SDD_IN = ("PMNT", "IDDT", "ESDD")
BTC_SDD_RETURN = ("PMNT", "IDDT", "UPDD")
BTC_SCT_RETURN = ("PMNT", "RCDT", "RPCR")
BTC_OUT = ("PMNT", "ICDT", "ESCT")
BTC_CHARGE = ("ACMT", "MDOP", "CHRG")
BTC_INTEREST = ("ACMT", "MCOP", "INTR")

ENTRY_COLUMNS = (
    "acct", "booking", "value", "amount", "kind", "pid", "ret", "name", "cp_iban", "ustrd", "rf",
    "e2e", "mandate", "btc", "reason", "addtl", "orig_pid", "ordkey",
)  # fmt: skip


def account_formats(bank_format: str) -> list[str]:
    if bank_format not in BANK_FORMATS:
        raise ValueError(
            f"bank_format must be one of {', '.join(BANK_FORMATS)}, found {bank_format!r}"
        )
    return [a.mixed_format if bank_format == "mixed" else bank_format for a in ACCOUNTS]


def payment_accounts(plan: PaymentPlan, second_eur: np.ndarray) -> np.ndarray:
    """Our account per payment: by currency; some EUR customers pay into the second EUR bank."""
    ccy = plan.pay["currency"].to_numpy()
    second = second_eur[plan.pay["cust"].to_numpy()]
    eur = np.where(second, ACCOUNT_INDEX["EUR_2"], ACCOUNT_INDEX["EUR_MAIN"])
    return np.select(
        [ccy == "USD", ccy == "CHF"], [ACCOUNT_INDEX["USD"], ACCOUNT_INDEX["CHF"]], eur
    )


def _days(values: np.ndarray) -> np.ndarray:
    return np.asarray(values).astype("datetime64[D]")


def build_entries(
    plan: PaymentPlan,
    acct_of_pay: np.ndarray,
    start: np.datetime64,
    end: np.datetime64,
    rng: np.random.Generator,
    ibans: IbanFactory,
) -> pd.DataFrame:
    """Every booked entry on every account (before batching and references)."""
    pay = plan.pay
    m = len(pay)
    channel = pay["channel"].to_numpy()
    btc_in = np.where(
        channel == "sdd",
        "|".join(BTC_SDD_IN),
        np.where(channel == "wire", "|".join(BTC_WIRE_IN), "|".join(BTC_SCT_IN)),
    )
    frames = [
        table(
            {
                "acct": acct_of_pay,
                "booking": _days(pay["booking"].to_numpy()),
                "value": _days(pay["value"].to_numpy()),
                "amount": pay["amount"].to_numpy(),
                "kind": "ar",
                "pid": np.arange(m),
                "ret": -1,
                "name": pay["payer_name"].to_numpy(),
                "cp_iban": pay["payer_account"].to_numpy(),
                "ustrd": pay["remittance"].to_numpy(),
                "rf": pay["rf"].to_numpy(),
                "e2e": pay["end_to_end_id"].to_numpy(),
                "mandate": pay["mandate"].to_numpy(),
                "btc": btc_in,
                "reason": "",
                "addtl": "",
                "orig_pid": -1,
            }
        )
    ]

    # returns: the payment goes back, same parties and references, with the bank's reason
    ret = plan.returns
    if len(ret):
        o = ret["pid"].to_numpy()
        sdd = channel[o] == "sdd"
        frames.append(
            table(
                {
                    "acct": acct_of_pay[o],
                    "booking": _days(ret["date"].to_numpy()),
                    "value": _days(ret["date"].to_numpy()),
                    "amount": -pay["amount"].to_numpy()[o],
                    "kind": "return",
                    "pid": -1,
                    "ret": np.arange(len(ret)),
                    "name": pay["payer_name"].to_numpy()[o],
                    "cp_iban": pay["payer_account"].to_numpy()[o],
                    "ustrd": pay["remittance"].to_numpy()[o],
                    "rf": "",
                    "e2e": pay["end_to_end_id"].to_numpy()[o],
                    "mandate": pay["mandate"].to_numpy()[o],
                    "btc": np.where(sdd, "|".join(BTC_SDD_RETURN), "|".join(BTC_SCT_RETURN)),
                    "reason": ret["reason"].to_numpy(),
                    "addtl": np.where(sdd, "RUECKLASTSCHRIFT", "RUECKUEBERWEISUNG"),
                    "orig_pid": o,
                }
            )
        )
        # the bank charges for a returned direct debit
        if sdd.any():
            frames.append(
                _simple(
                    acct_of_pay[o][sdd],
                    _days(ret["date"].to_numpy())[sdd],
                    np.full(int(sdd.sum()), -300),
                    "charge",
                    BTC_CHARGE,
                    "Entgelt Ruecklastschrift",
                )
            )

    frames.append(_non_ar(plan, acct_of_pay, start, end, rng, ibans))
    frames.append(_outgoing(frames[0], start, end, rng, ibans))
    entries = pd.concat(frames, ignore_index=True)
    entries["ordkey"] = rng.random(len(entries))
    return entries


def _simple(
    acct: np.ndarray,
    day: np.ndarray,
    amount: np.ndarray,
    kind: str,
    btc: tuple[str, str, str],
    info: str | np.ndarray,
    name: str | np.ndarray = "",
    iban: str | np.ndarray = "",
    e2e: str | np.ndarray = "",
) -> pd.DataFrame:
    """Entries that are not customer payments. Charges and interest carry their text as
    additional entry information; the others as remittance information."""
    k = len(acct)
    entry_info = kind in ("charge", "interest")
    return table(
        {
            "acct": acct, "booking": day, "value": day, "amount": amount, "kind": kind, "pid": np.full(k, -1),
            "ret": np.full(k, -1), "name": name, "cp_iban": iban, "ustrd": "" if entry_info else info,
            "rf": "", "e2e": e2e, "mandate": "", "btc": "|".join(btc), "reason": "",
            "addtl": info if entry_info else "", "orig_pid": np.full(k, -1),
        }
    )  # fmt: skip


def _months(start: np.datetime64, end: np.datetime64) -> np.ndarray:
    return np.arange(start.astype("datetime64[M]"), end.astype("datetime64[M]") + 1)


def _last_busday(month: np.datetime64, end: np.datetime64) -> np.datetime64:
    last = (month + 1).astype("datetime64[D]") - 1
    return min(
        np.busday_offset(last, 0, roll="backward"), np.busday_offset(end, 0, roll="backward")
    )


def _non_ar(
    plan: PaymentPlan,
    acct_of_pay: np.ndarray,
    start: np.datetime64,
    end: np.datetime64,
    rng: np.random.Generator,
    ibans: IbanFactory,
) -> pd.DataFrame:
    """Credits that are not customer payments: interest, tax refunds, supplier refunds."""
    parts = []
    main, chf = ACCOUNT_INDEX["EUR_MAIN"], ACCOUNT_INDEX["CHF"]
    for month in _months(start, end):
        mnum = int(str(month)[5:7])
        day = _last_busday(month, end)
        if mnum % 3 == 0:
            quarter = f"Q{mnum // 3}/{str(month)[:4]}"
            for acct in (main, chf):
                cents = int(rng.integers(500, 60_000))
                parts.append(
                    _simple(
                        np.array([acct]),
                        np.array([day]),
                        np.array([cents]),
                        "interest",
                        BTC_INTEREST,
                        f"Habenzinsen {quarter}",
                    )
                )
        if rng.random() < 0.45:
            refund_day = np.busday_offset(
                month.astype("datetime64[D]"), int(rng.integers(0, 18)), roll="forward"
            )
            if refund_day <= end:
                cents = int(rng.integers(100_000, 4_000_000))
                text = (
                    f"Erstattung USt {str(month - 2)[5:7]}/{str(month - 2)[:4]} StNr 143/815/08150"
                )
                parts.append(
                    _simple(
                        np.array([main]),
                        np.array([refund_day]),
                        np.array([cents]),
                        "non_ar",
                        BTC_SCT_IN,
                        text,
                        TAX_OFFICE[0],
                        TAX_OFFICE[1],
                        "NOTPROVIDED",
                    )
                )
    k = max(3, round(0.004 * len(plan.pay)))
    accts = (
        acct_of_pay[rng.integers(0, len(acct_of_pay), k)] if len(acct_of_pay) else np.full(k, main)
    )
    nbd = int(np.busday_count(start, end + np.timedelta64(1, "D")))
    days = np.busday_offset(start, rng.integers(0, nbd, k), roll="forward")
    suppliers = np.array(words.SUPPLIERS)[rng.integers(0, len(words.SUPPLIERS), k)]
    texts = [
        f"Gutschrift GS-{int(x)}" if rng.random() < 0.5 else f"Refund credit memo CM{int(x)}"
        for x in rng.integers(10000, 99999, k)
    ]
    supplier_ibans = [ibans.new("DE") for _ in range(k)]
    parts.append(
        _simple(
            accts,
            days,
            rng.integers(5_000, 300_000, k),
            "non_ar",
            BTC_SCT_IN,
            np.array(texts, dtype=object),
            suppliers,
            np.array(supplier_ibans, dtype=object),
            "NOTPROVIDED",
        )
    )
    return pd.concat(parts, ignore_index=True)


def _outgoing(
    incoming: pd.DataFrame,
    start: np.datetime64,
    end: np.datetime64,
    rng: np.random.Generator,
    ibans: IbanFactory,
) -> pd.DataFrame:
    """Supplier payments, payroll and monthly account fees: roughly what comes in goes out."""
    supplier_iban = {s: ibans.new("DE") for s in words.SUPPLIERS}
    parts = []
    months = incoming["booking"].to_numpy().astype("datetime64[M]")
    for acct_idx, acct in enumerate(ACCOUNTS):
        in_acct = incoming["acct"].to_numpy() == acct_idx
        for month in _months(start, end):
            sel = in_acct & (months == month)
            total_in = int(incoming["amount"].to_numpy()[sel].sum())
            first = max(month.astype("datetime64[D]"), start)
            last = min((month + 1).astype("datetime64[D]") - 1, end)
            nbd = int(np.busday_count(first, last + np.timedelta64(1, "D")))
            if nbd == 0:
                continue
            k = max(2, round(0.25 * int(sel.sum())))
            target = int(total_in * rng.uniform(0.7, 0.95))
            w = rng.lognormal(0.0, 1.0, k)
            cents = np.floor(w / w.sum() * target).astype(np.int64)
            cents = np.maximum(cents, 1_000)
            days = np.busday_offset(first, rng.integers(0, nbd, k), roll="forward")
            names = np.array(words.SUPPLIERS)[rng.integers(0, len(words.SUPPLIERS), k)]
            texts = np.array(
                [f"Rechnung {int(x)} Lieferung" for x in rng.integers(100000, 999999, k)],
                dtype=object,
            )
            if acct.key == "EUR_MAIN":
                names[0] = "Gehaltsabrechnung Sammler"
                texts[0] = f"Lohn/Gehalt {str(month)[5:7]}/{str(month)[:4]}"
            e2e = np.array(
                [f"PAY{str(d).replace('-', '')}{j:04d}" for j, d in enumerate(days)], dtype=object
            )
            cp = np.array([supplier_iban.get(nm, "") for nm in names], dtype=object)
            parts.append(
                _simple(np.full(k, acct_idx), days, -cents, "out", BTC_OUT, texts, names, cp, e2e)
            )
            fee = {"EUR": 2990, "USD": 3500, "CHF": 3000}[acct.currency] + 10 * int(sel.sum())
            parts.append(
                _simple(
                    np.array([acct_idx]),
                    np.array([_last_busday(month, end)]),
                    np.array([-fee]),
                    "charge",
                    BTC_CHARGE,
                    f"Kontofuehrung {str(month)[5:7]}/{str(month)[:4]}",
                )
            )
    return pd.concat(parts, ignore_index=True)


# --------------------------------------------------------------------------- batches and references
def assign_batches(
    entries: pd.DataFrame, plan: PaymentPlan, formats: list[str], rng: np.random.Generator
) -> None:
    """Batch entries on camt accounts: each day's direct-debit collections are one entry (one
    detail per debit); some days a handful of incoming transfers come bundled too."""
    n = len(entries)
    batch = np.full(n, -1, np.int64)
    is_ar = entries["kind"].to_numpy() == "ar"
    pid = entries["pid"].to_numpy()
    channels = np.append(plan.pay["channel"].to_numpy().astype(object), "")  # [-1]: not AR
    channel = channels[np.where(is_ar, pid, -1)]
    camt = np.array([formats[a] == "camt" for a in entries["acct"].to_numpy()])
    acct = entries["acct"].to_numpy()
    day = entries["booking"].to_numpy().astype("datetime64[D]").astype(np.int64)
    value_day = entries["value"].to_numpy().astype("datetime64[D]").astype(np.int64)
    group_key = (
        acct * 100_000 + day
    ) * 100_000 + value_day  # one entry: one booking and value date
    next_id = 0
    for chan, share in (("sdd", 1.0), ("sct", 0.1)):
        sel = np.flatnonzero(is_ar & camt & (channel == chan))
        if not len(sel):
            continue
        sel = sel[np.lexsort((entries["ordkey"].to_numpy()[sel], group_key[sel]))]
        keys, start_idx, counts = np.unique(group_key[sel], return_index=True, return_counts=True)
        min_size = 2 if chan == "sdd" else 3
        for g in np.flatnonzero((counts >= min_size) & (rng.random(len(keys)) < share)):
            size = counts[g] if chan == "sdd" else min(counts[g], 2 + int(rng.integers(0, 4)))
            batch[sel[start_idx[g] : start_idx[g] + size]] = next_id
            next_id += 1
    entries["batch"] = batch


def order_and_reference(entries: pd.DataFrame) -> pd.DataFrame:
    """Statement order (account, booking day, entry) and the bank's references: every entry
    and every batch detail gets its own ``AcctSvcrRef``, unique per account and overall."""
    batch = entries["batch"].to_numpy()
    ordkey = entries["ordkey"].to_numpy().copy()
    in_batch = batch >= 0
    if in_batch.any():
        first_key = pd.Series(ordkey[in_batch]).groupby(batch[in_batch]).transform("min").to_numpy()
        detail_key = ordkey[in_batch]
        ordkey[in_batch] = first_key
    else:
        detail_key = np.array([])
    sub = np.zeros(len(entries))
    sub[in_batch] = detail_key
    entries = entries.assign(entry_key=ordkey, sub_key=sub)
    order = np.lexsort(
        (
            entries["sub_key"].to_numpy(),
            entries["batch"].to_numpy(),
            entries["entry_key"].to_numpy(),
            entries["booking"].to_numpy(),
            entries["acct"].to_numpy(),
        )
    )
    entries = entries.iloc[order].reset_index(drop=True)

    # lines: each non-batch entry is one line; a batch is a header line plus its details
    b = entries["batch"].to_numpy()
    starts_batch = (b >= 0) & np.r_[True, b[1:] != b[:-1]]
    lines_per_row = 1 + starts_batch.astype(np.int64)
    acct = entries["acct"].to_numpy()
    counter = np.zeros(len(entries), np.int64)
    header_counter = np.full(len(entries), -1, np.int64)
    for a in range(len(ACCOUNTS)):
        sel = np.flatnonzero(acct == a)
        cum = np.cumsum(lines_per_row[sel])
        counter[sel] = cum  # the row's own line
        header_counter[sel[starts_batch[sel]]] = cum[starts_batch[sel]] - 1
    days = entries["booking"].to_numpy().astype("datetime64[D]")
    prefix = pd.Series(np.array([a.ref_prefix for a in ACCOUNTS], dtype=object)[acct]) + pd.Series(
        np.char.replace(iso_dates(days), "-", "")
    )

    def refs(numbers: np.ndarray) -> np.ndarray:
        return (prefix + pd.Series(numbers).astype(str).str.zfill(7)).to_numpy(dtype=object)

    entries["ref"] = text(refs(counter))
    # a batch's details share the header's reference as their entry reference
    entry_ref = entries["ref"].to_numpy().copy()
    batch_ids = entries["batch"].to_numpy()
    in_batch = batch_ids >= 0
    if in_batch.any():
        head_ref = refs(np.where(header_counter >= 0, header_counter, 0))
        first_row = (
            pd.Series(np.arange(len(entries))[in_batch])
            .groupby(batch_ids[in_batch])
            .transform("min")
            .to_numpy()
        )
        entry_ref[in_batch] = head_ref[first_row]
    entries["entry_ref"] = text(entry_ref)
    return entries


# --------------------------------------------------------------------------- writers
@dataclass
class WrittenFile:
    name: str
    account: str
    statement_id: str
    opening: int
    closing: int
    entries: int


def statement_slices(
    entries: pd.DataFrame, start: np.datetime64, end: np.datetime64
) -> list[tuple[int, np.datetime64, int, int]]:
    """(account, month, first row, end row) for every account and month, empty months too."""
    month = entries["booking"].to_numpy().astype("datetime64[M]").astype(np.int64)
    acct = entries["acct"].to_numpy()
    key = acct * 100_000 + month
    out = []
    for a in range(len(ACCOUNTS)):
        for mth in _months(start, end):
            k = a * 100_000 + int(mth.astype(np.int64))
            lo = int(np.searchsorted(key, k, side="left"))
            hi = int(np.searchsorted(key, k, side="right"))
            out.append((a, mth, lo, hi))
    return out


def write_statements(
    entries: pd.DataFrame,
    formats: list[str],
    bank_dir: Path,
    start: np.datetime64,
    end: np.datetime64,
    rng: np.random.Generator,
    progress,
) -> tuple[np.ndarray, list[WrittenFile]]:
    """Write one statement file per account and month; returns the file name per entry row."""
    bank_dir.mkdir(parents=True, exist_ok=True)
    source = np.empty(len(entries), dtype=object)
    written: list[WrittenFile] = []
    amounts = entries["amount"].to_numpy()
    slices = statement_slices(entries, start, end)
    inflow = {
        a: int(amounts[(entries["acct"].to_numpy() == a) & (amounts > 0)].sum())
        for a in range(len(ACCOUNTS))
    }
    n_months = len(_months(start, end))
    balance = {
        a: (inflow[a] // max(1, n_months) // 2 // 100_000 + 5) * 100_000
        for a in range(len(ACCOUNTS))
    }
    seq_nb = {a: int(rng.integers(1, 300)) for a in range(len(ACCOUNTS))}
    cols = {
        c: entries[c].to_numpy()
        for c in (
            "booking",
            "value",
            "amount",
            "kind",
            "name",
            "cp_iban",
            "ustrd",
            "rf",
            "e2e",
            "mandate",
            "btc",
            "reason",
            "addtl",
            "batch",
            "ref",
            "entry_ref",
            "orig_pid",
        )
    }
    if "camt" in formats:  # XML-escaped copies of the free-text columns
        for c in ("name", "ustrd", "e2e", "addtl"):
            cols[f"x_{c}"] = _xml_escape(cols[c])
    ref_of_pid = _ref_of_pid(entries)
    for a, mth, lo, hi in slices:
        acct = ACCOUNTS[a]
        fmt = formats[a]
        ym = str(mth)
        first = max(mth.astype("datetime64[D]"), start)
        last = min((mth + 1).astype("datetime64[D]") - 1, end)
        opening = balance[a]
        closing = opening + int(amounts[lo:hi].sum())
        balance[a] = closing
        seq = seq_nb[a]
        seq_nb[a] += 1
        stmt_id = f"{acct.iban}-{ym[:4]}-{seq:03d}"
        if fmt == "camt":
            name = f"camt053_{acct.iban}_{ym}.xml"
            text = _camt_document(
                acct, stmt_id, seq, first, last, opening, closing, cols, lo, hi, ref_of_pid
            )
            (bank_dir / name).write_text(text, encoding="utf-8")
        else:
            name = f"{acct.ref_prefix.lower()}_{acct.iban}_{ym}.{fmt}"
            rows = _generic_rows(acct, cols, lo, hi, ref_of_pid)
            if fmt == "csv":
                write_csv(bank_dir / name, CSV_HEADER, rows)
            else:
                _write_parquet(bank_dir / name, rows)
        source[lo:hi] = name
        written.append(WrittenFile(name, acct.iban, stmt_id, opening, closing, hi - lo))
        if progress is not None and mth == slices[-1][1]:
            files = [w for w in written if w.account == acct.iban]
            entries_written = sum(w.entries for w in files)
            progress(
                f"bank: {acct.iban} ({acct.currency}) {len(files)} {fmt} files, {entries_written} entries"
            )
    return source, written


def _ref_of_pid(entries: pd.DataFrame) -> dict[int, str]:
    is_ar = entries["kind"].to_numpy() == "ar"
    return dict(
        zip(
            entries["pid"].to_numpy()[is_ar].tolist(),
            entries["ref"].to_numpy()[is_ar].tolist(),
            strict=True,
        )
    )


def _generic_rows(
    acct: OurAccount, cols: dict[str, np.ndarray], lo: int, hi: int, ref_of_pid: dict[int, str]
) -> list[list[object]]:
    n = hi - lo
    booking = iso_dates(cols["booking"][lo:hi].astype("datetime64[D]"))
    value = iso_dates(cols["value"][lo:hi].astype("datetime64[D]"))
    remittance = []
    names = []
    for k in range(lo, hi):
        kind = cols["kind"][k]
        text = cols["ustrd"][k]
        if cols["rf"][k]:
            text = f"{text} {cols['rf'][k]}".strip()
        if kind == "return":
            orig = ref_of_pid.get(int(cols["orig_pid"][k]), "")
            text = f"RETURN {cols['reason'][k]} ORIGINAL REF {orig} {text}".strip()
        elif kind in ("charge", "interest"):
            text = cols["addtl"][k]
        remittance.append(text)
        names.append(cols["name"][k] if kind not in ("charge", "interest") else acct.bank)
    return [
        [acct.iban] * n,
        booking.tolist(),
        value.tolist(),
        money(cols["amount"][lo:hi]),
        [acct.currency] * n,
        names,
        list(cols["cp_iban"][lo:hi]),
        list(cols["ref"][lo:hi]),
        remittance,
    ]


def _write_parquet(path: Path, rows: list[list[object]]) -> None:
    table = pa.table(
        {
            "account": pa.array(rows[0], pa.string()),
            "booking_date": pa.array(np.array(rows[1], dtype="datetime64[D]")),
            "value_date": pa.array(np.array(rows[2], dtype="datetime64[D]")),
            "amount": pa.array(rows[3], pa.string()).cast(pa.decimal128(18, 2)),
            "currency": pa.array(rows[4], pa.string()),
            "counterparty_name": pa.array(rows[5], pa.string()),
            "counterparty_account": pa.array(rows[6], pa.string()),
            "reference": pa.array(rows[7], pa.string()),
            "remittance_info": pa.array(rows[8], pa.string()),
        }
    )
    pq.write_table(table, path)


def _xml_escape(values: np.ndarray) -> np.ndarray:
    escaped = pd.Series(values, dtype=object).str.replace("&", "&amp;", regex=False)
    escaped = escaped.str.replace("<", "&lt;", regex=False).str.replace(">", "&gt;", regex=False)
    return escaped.to_numpy(dtype=object)


def _amt(ccy: str, cents: int) -> str:
    return f'<Amt Ccy="{ccy}">{money1(abs(cents))}</Amt>'


def _btc(code: str) -> str:
    dom, fam, sub = code.split("|")
    return f"<BkTxCd><Domn><Cd>{dom}</Cd><Fmly><Cd>{fam}</Cd><SubFmlyCd>{sub}</SubFmlyCd></Fmly></Domn></BkTxCd>"


def _tx_details(
    cols: dict[str, np.ndarray], k: int, ccy: str, *, own_ref: bool, ref_of_pid: dict[int, str]
) -> str:
    """One TxDtls: references, amount (batch details), parties, remittance, return reason."""
    kind = cols["kind"][k]
    credit = cols["amount"][k] > 0  # a return's money goes to the original payer: Cdtr
    refs = []
    if own_ref:
        refs.append(f"<AcctSvcrRef>{cols['ref'][k]}</AcctSvcrRef>")
    if cols["e2e"][k]:
        refs.append(f"<EndToEndId>{cols['x_e2e'][k]}</EndToEndId>")
    if cols["mandate"][k]:
        refs.append(f"<MndtId>{cols['mandate'][k]}</MndtId>")
    out = ["<TxDtls>"]
    if refs:
        out.append("<Refs>" + "".join(refs) + "</Refs>")
    if own_ref:
        out.append(f"<AmtDtls><TxAmt>{_amt(ccy, int(cols['amount'][k]))}</TxAmt></AmtDtls>")
    name, iban = cols["x_name"][k], cols["cp_iban"][k]
    if name or iban:
        party = []
        role = "Dbtr" if credit else "Cdtr"
        if name:
            party.append(f"<{role}><Nm>{name}</Nm></{role}>")
        if iban:
            party.append(f"<{role}Acct><Id><IBAN>{iban}</IBAN></Id></{role}Acct>")
        out.append("<RltdPties>" + "".join(party) + "</RltdPties>")
    info, rf = cols["x_ustrd"][k], cols["rf"][k]
    if info or rf:
        rmt = [f"<Ustrd>{info}</Ustrd>"] if info else []
        if rf:
            rmt.append(
                "<Strd><CdtrRefInf><Tp><CdOrPrtry><Cd>SCOR</Cd></CdOrPrtry><Issr>ISO</Issr></Tp>"
                f"<Ref>{rf}</Ref></CdtrRefInf></Strd>"
            )
        out.append("<RmtInf>" + "".join(rmt) + "</RmtInf>")
    if kind == "return":
        orig = ref_of_pid.get(int(cols["orig_pid"][k]), "")
        out.append(
            f"<RtrInf><Rsn><Cd>{cols['reason'][k]}</Cd></Rsn><AddtlInf>ORIGINAL REF {orig}</AddtlInf></RtrInf>"
        )
    out.append("</TxDtls>")
    return "".join(out)


def _camt_document(
    acct: OurAccount,
    stmt_id: str,
    seq: int,
    first: np.datetime64,
    last: np.datetime64,
    opening: int,
    closing: int,
    cols: dict[str, np.ndarray],
    lo: int,
    hi: int,
    ref_of_pid: dict[int, str],
) -> str:
    ccy = acct.currency
    created = f"{last}T22:00:00"
    msg_id = f"{acct.ref_prefix}STMT{str(first)[:7].replace('-', '')}{seq:05d}"

    def bal(code: str, cents: int, day: np.datetime64) -> str:
        ind = "CRDT" if cents >= 0 else "DBIT"
        return f"<Bal><Tp><CdOrPrtry><Cd>{code}</Cd></CdOrPrtry></Tp>{_amt(ccy, cents)}<CdtDbtInd>{ind}</CdtDbtInd><Dt><Dt>{day}</Dt></Dt></Bal>"

    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>\n',
        f'<Document xmlns="{CAMT_NS}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">\n',
        "<BkToCstmrStmt>\n",
        f"<GrpHdr><MsgId>{msg_id}</MsgId><CreDtTm>{created}</CreDtTm><MsgPgntn><PgNb>1</PgNb><LastPgInd>true</LastPgInd></MsgPgntn></GrpHdr>\n",
        f"<Stmt><Id>{stmt_id}</Id><ElctrncSeqNb>{seq}</ElctrncSeqNb><CreDtTm>{created}</CreDtTm>",
        f"<FrToDt><FrDtTm>{first}T00:00:00</FrDtTm><ToDtTm>{last}T23:59:59</ToDtTm></FrToDt>",
        f"<Acct><Id><IBAN>{acct.iban}</IBAN></Id><Ccy>{ccy}</Ccy><Ownr><Nm>{escape(COMPANY)}</Nm></Ownr>",
        f"<Svcr><FinInstnId><BIC>{acct.bic}</BIC></FinInstnId></Svcr></Acct>\n",
        bal("OPBD", opening, first) + "\n",
        bal("CLBD", closing, last) + "\n",
    ]
    booking = iso_dates(cols["booking"][lo:hi].astype("datetime64[D]"))
    value = iso_dates(cols["value"][lo:hi].astype("datetime64[D]"))
    batch = cols["batch"]
    k = lo
    while k < hi:
        b = batch[k]
        end_k = k + 1
        if b >= 0:
            while end_k < hi and batch[end_k] == b:
                end_k += 1
        total = int(cols["amount"][k:end_k].sum())
        kind = cols["kind"][k]
        head = [
            "<Ntry>",
            _amt(ccy, total),
            f"<CdtDbtInd>{'CRDT' if total > 0 else 'DBIT'}</CdtDbtInd>",
            "<RvslInd>true</RvslInd>" if kind == "return" else "",
            "<Sts>BOOK</Sts>",
            f"<BookgDt><Dt>{booking[k - lo]}</Dt></BookgDt><ValDt><Dt>{value[k - lo]}</Dt></ValDt>",
            f"<AcctSvcrRef>{cols['entry_ref'][k]}</AcctSvcrRef>",
            _btc(cols["btc"][k]),
        ]
        if b >= 0:
            details = "".join(
                _tx_details(cols, j, ccy, own_ref=True, ref_of_pid=ref_of_pid)
                for j in range(k, end_k)
            )
            head.append(
                f"<NtryDtls><Btch><NbOfTxs>{end_k - k}</NbOfTxs>{_amt(ccy, total).replace('Amt', 'TtlAmt')}"
                f"<CdtDbtInd>CRDT</CdtDbtInd></Btch>{details}</NtryDtls>"
            )
        elif kind not in ("charge", "interest"):
            head.append(
                "<NtryDtls>"
                + _tx_details(cols, k, ccy, own_ref=False, ref_of_pid=ref_of_pid)
                + "</NtryDtls>"
            )
        if cols["addtl"][k]:
            head.append(f"<AddtlNtryInf>{cols['x_addtl'][k]}</AddtlNtryInf>")
        head.append("</Ntry>\n")
        parts.append("".join(head))
        k = end_k
    parts.append("</Stmt>\n</BkToCstmrStmt>\n</Document>\n")
    return "".join(parts)
