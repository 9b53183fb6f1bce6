"""OFX / QFX reader: OFX 1.x (SGML) and 2.x (XML), bank and credit-card statements.

``parse(data, source_file)`` returns one :class:`Transaction` per ``<STMTTRN>`` and one
:class:`Statement` per ``<STMTRS>`` / ``<CCSTMTRS>``.

Our own tolerant reader, not ``ofxtools``: ofxtools rejects 3 of the 10 real files here
(two ``<STMTRS>`` in one ``<STMTTRNRS>``, ``LANGUAGE`` ``FRE``, a ``BANKID`` longer than 9
characters). The tests use ofxtools as an independent cross-check on the files it reads.

How the document is read: the ``KEY:VALUE`` SGML header or the ``<?xml?>``/``<?OFX?>``
prolog is skipped (its ``ENCODING``/``CHARSET`` or XML ``encoding`` choose the decoding;
CHARSET 1252 is CP1252, which also reads Latin-1 letters; if the declared encoding does not
fit the bytes, UTF-8 and then CP1252 are tried). Tags are then read SGML-style, which also
covers XML: a tag followed by text is an element with that value (its closing tag is
optional), any other tag opens an aggregate that ends at its closing tag (closing tags of
unclosed children are implied). So unclosed tags under an XML prolog, one-line bodies, tab
indentation, trailing spaces after values (``13318.36 ``), ``&amp;`` entities and CDATA
values all read the same.

Record rules:

* amount = ``TRNAMT`` as signed in the file (+ in, − out), trusted over ``TRNTYPE`` (a
  ``DIRECTDEP`` with a negative amount is money out); a decimal comma is accepted;
* currency = the transaction's ``<CURRENCY><CURSYM>`` if given, else ``CURDEF``;
* booking_date = ``DTPOSTED`` (the calendar date as written, time zone suffixes such as
  ``[-5:EST]`` ignored); value_date = ``DTAVAIL`` if given;
* bank_reference = ``FITID``; counterparty_name = ``NAME`` or ``PAYEE/NAME``;
  counterparty_account = ``BANKACCTTO``/``CCACCTTO`` ``ACCTID``; remittance_info = NAME,
  MEMO (without repeating one contained in the other) and ``CHECKNUM``/``REFNUM``;
* transaction_id = ``make_transaction_id(account, FITID, n)``, ``n`` counting earlier
  transactions of the account with the same FITID in the file; without a FITID
  ``make_transaction_id(account, "ofx", DTSTART, DTEND, position in the statement)``;
* OFX has no reversal marker: is_reversal stays false. A ``CORRECTACTION`` record (an
  instruction to replace or delete an earlier FITID) is rejected with its reason, so a
  person applies it;
* statement: account = ``ACCTID``, currency = ``CURDEF``, statement_id = ``DTSTART..DTEND``,
  no sequence number; closing balance = ``LEDGERBAL``. OFX carries no opening balance, so
  the balance check is not_checkable (it is never guessed).

A document without ``<OFX>`` or without any bank/credit-card statement raises
:class:`UnreadableFile` (with the server's STATUS message when it sent an error).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from pipelines.ingest.bank.common import (
    FieldError,
    collapse_spaces,
    decode_guess,
    find_structured_reference,
    found,
    pad_minor_units,
    parse_amount,
    parse_currency,
    reason,
)
from pipelines.ingest.bank.records import (
    ParseResult,
    Statement,
    Transaction,
    UnreadableFile,
    make_transaction_id,
)

__all__ = ["Node", "parse", "parse_document"]

FORMAT = "ofx"

_TOKEN_RE = re.compile(
    r"<!\[CDATA\[(?P<cdata>.*?)\]\]>"
    r"|<!--.*?-->"
    r"|<\?.*?\?>"
    r"|<(?P<close>/)?(?P<tag>[A-Za-z][A-Za-z0-9_.]*)[^>]*?(?P<selfclose>/)?>"
    r"|(?P<text>[^<]+)"
    r"|(?P<stray><)",
    re.DOTALL,
)
_SGML_HEADER_RE = re.compile(r"^\s*OFXHEADER\s*:", re.IGNORECASE)
_XML_ENCODING_RE = re.compile(rb"<\?xml[^>]*encoding=[\"']([A-Za-z0-9_.:-]+)[\"']", re.I)
_DATE_RE = re.compile(r"^\s*(\d{4})(\d{2})(\d{2})")


@dataclass
class Node:
    """One OFX element: an aggregate (children) or an element with a text value."""

    tag: str
    line: int
    text: str | None = None
    children: list[Node] = field(default_factory=list)

    def child(self, tag: str) -> Node | None:
        for c in self.children:
            if c.tag == tag:
                return c
        return None

    def value(self, *path: str) -> str:
        """Text of the element at ``path`` below this one (``""`` if absent)."""
        node: Node | None = self
        for tag in path:
            node = node.child(tag) if node else None
        return (node.text or "").strip() if node else ""

    def iter(self, tag: str) -> Iterator[Node]:
        for c in self.children:
            if c.tag == tag:
                yield c
            yield from c.iter(tag)


def _declared_encoding(data: bytes) -> str | None:
    head = data[:2048]
    match = _XML_ENCODING_RE.search(head)
    if match:
        return match.group(1).decode("ascii").lower()
    text = head.decode("latin-1")
    if not _SGML_HEADER_RE.match(text):
        return None
    # KEY:VALUE pairs before the first tag, one per line or (some banks) on one line
    header = text.split("<", 1)[0]
    values = {k.upper(): v.upper() for k, v in re.findall(r"([A-Za-z]+):(\S*)", header)}
    enc = values.get("ENCODING", "")
    charset = values.get("CHARSET", "")
    if enc in ("UTF-8", "UTF8", "UNICODE"):
        return "utf-8"
    if charset in ("1252", "WINDOWS-1252"):
        return "cp1252"
    if charset in ("8859-1", "ISO-8859-1", "ISO8859-1", "LATIN1"):
        return "latin-1"
    if re.fullmatch(r"[0-9]+", charset):
        return f"cp{charset}"
    return None


def parse_document(text: str) -> Node:
    """Read OFX text (header and body) into a tree rooted at a synthetic ``#document``."""
    root = Node(tag="#document", line=1)
    stack: list[Node] = [root]
    tokens = list(_TOKEN_RE.finditer(text))
    line_starts = _line_index(text)
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        i += 1
        tag = tok.group("tag")
        if tag is None:
            continue  # text outside an element (SGML header, whitespace), PI, comment
        tag = tag.upper()
        line = _line_of(line_starts, tok.start())
        if tok.group("close"):
            for depth in range(len(stack) - 1, 0, -1):
                if stack[depth].tag == tag:
                    del stack[depth:]
                    break
            continue  # a closing tag of an element already closed is ignored
        node = Node(tag=tag, line=line)
        stack[-1].children.append(node)
        if tok.group("selfclose"):
            node.text = ""
            continue
        value, j = _element_value(tokens, i)
        if value is not None:
            node.text = value
            i = j
            if (
                i < len(tokens)
                and tokens[i].group("close")
                and (tokens[i].group("tag") or "").upper() == tag
            ):
                i += 1
            continue
        stack.append(node)
    return root


def _element_value(tokens: list[re.Match[str]], i: int) -> tuple[str | None, int]:
    """Text (and CDATA) right after an open tag, or None when a tag follows directly."""
    parts: list[str] = []
    j = i
    while j < len(tokens):
        tok = tokens[j]
        if tok.group("text") is not None:
            parts.append(html.unescape(tok.group("text")))
        elif tok.group("cdata") is not None:
            parts.append(tok.group("cdata"))
        elif tok.group("stray") is not None:
            parts.append("<")
        else:
            break
        j += 1
    value = "".join(parts)
    if not value.strip():
        return None, i
    return value.strip(), j


def _line_index(text: str) -> list[int]:
    starts = [0]
    for m in re.finditer("\n", text):
        starts.append(m.end())
    return starts


def _line_of(starts: list[int], offset: int) -> int:
    lo, hi = 0, len(starts) - 1
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if starts[mid] <= offset:
            lo = mid
        else:
            hi = mid - 1
    return lo + 1


def parse(data: bytes, source_file: str) -> ParseResult:
    """Read an OFX/QFX file (bytes) into transactions and statements."""
    text, _ = decode_guess(data, _declared_encoding(data))
    root = parse_document(text)
    ofx = next(root.iter("OFX"), None)
    if ofx is None:
        first = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
        raise UnreadableFile(
            source_file,
            "line 1",
            "an OFX document with an <OFX> element",
            found(first) if first else "an empty file",
        )
    statements = [n for n in ofx.iter("STMTRS")] + [n for n in ofx.iter("CCSTMTRS")]
    statements.sort(key=lambda n: n.line)
    if not statements:
        status = _error_status(ofx)
        raise UnreadableFile(
            source_file,
            f"line {ofx.line}",
            "a bank or credit card statement (<STMTRS> or <CCSTMTRS>)",
            status or "none",
        )
    result = ParseResult(format=FORMAT)
    ref_counts: dict[tuple[str, str], int] = {}
    for st_node in statements:
        _read_statement(st_node, source_file, result, ref_counts)
    return result


def _error_status(ofx: Node) -> str:
    for status in ofx.iter("STATUS"):
        code = status.value("CODE")
        if code and code != "0":
            message = status.value("MESSAGE")
            return f"server status {code} {status.value('SEVERITY')} {message}".strip()
    return ""


def _read_statement(
    node: Node, source_file: str, result: ParseResult, ref_counts: dict[tuple[str, str], int]
) -> None:
    acct_from = node.child("BANKACCTFROM") or node.child("CCACCTFROM")
    account = acct_from.value("ACCTID") if acct_from else ""
    tranlist = node.child("BANKTRANLIST")
    dtstart = tranlist.value("DTSTART") if tranlist else ""
    dtend = tranlist.value("DTEND") if tranlist else ""
    statement = Statement(
        statement_id=f"{_date_part(dtstart)}..{_date_part(dtend)}",
        account=account,
        source_file=source_file,
    )
    statement.from_date = _safe_date(dtstart)
    statement.to_date = _safe_date(dtend)
    raw_ccy = node.value("CURDEF")
    currency_problem = ""
    try:
        statement.currency = parse_currency(raw_ccy)
    except FieldError as err:
        statement.currency = raw_ccy
        curdef = node.child("CURDEF")
        currency_problem = err.reason_for(
            source_file, f"line {curdef.line if curdef else node.line} (<CURDEF>)"
        )
    ledger = node.child("LEDGERBAL")
    if ledger is not None:
        try:
            statement.closing_balance = pad_minor_units(
                _amount(ledger.value("BALAMT")), statement.currency
            )
        except FieldError:
            statement.closing_balance = None
    account_problem = ""
    if not account:
        account_problem = reason(
            source_file,
            f"line {node.line}",
            "the account in <BANKACCTFROM>/<CCACCTFROM><ACCTID>",
            "nothing",
        )

    transactions = list(tranlist.iter("STMTTRN")) if tranlist else []
    for position, trn in enumerate(transactions, start=1):
        tx = _read_transaction(trn, source_file, statement.currency)
        tx.account = account
        tx.statement_id = statement.statement_id
        if tx.amount is not None:
            statement.entries_total += tx.amount
        statement.entry_count += 1
        if not tx.reject_reason:
            tx.reject_reason = (
                currency_problem if tx.currency == statement.currency and currency_problem else ""
            ) or account_problem
        if tx.bank_reference:
            key = (account, tx.bank_reference)
            occurrence = ref_counts.get(key, 0)
            ref_counts[key] = occurrence + 1
            tx.transaction_id = make_transaction_id(account, tx.bank_reference, occurrence)
        else:
            tx.transaction_id = make_transaction_id(account, "ofx", dtstart, dtend, position)
        result.transactions.append(tx)
    statement.check_balance()  # no opening balance in OFX: not_checkable
    result.statements.append(statement)


def _read_transaction(trn: Node, source_file: str, statement_currency: str) -> Transaction:
    where = f"line {trn.line}"
    tx = Transaction(source_file=source_file, location=where)
    tx.bank_reference = trn.value("FITID")
    name = trn.value("NAME") or trn.value("PAYEE", "NAME") or trn.value("EXTDNAME")
    memo = trn.value("MEMO")
    tx.counterparty_name = collapse_spaces(name)
    acct_to = trn.child("BANKACCTTO") or trn.child("CCACCTTO")
    tx.counterparty_account = acct_to.value("ACCTID") if acct_to else ""
    pieces = [collapse_spaces(name), collapse_spaces(memo)]
    if pieces[0] and pieces[1] and (pieces[0] in pieces[1] or pieces[1] in pieces[0]):
        pieces = [max(pieces, key=len)]
    for tag in ("CHECKNUM", "REFNUM"):
        if trn.value(tag).strip("0"):  # "0" / "000" is no number
            pieces.append(f"{tag} {trn.value(tag)}")
    tx.remittance_info = collapse_spaces(" ".join(p for p in pieces if p))
    tx.structured_reference = find_structured_reference(tx.remittance_info)

    currency_node = trn.child("CURRENCY")
    tx.currency = statement_currency
    problems: list[str] = []
    if currency_node is not None and currency_node.value("CURSYM"):
        try:
            tx.currency = parse_currency(currency_node.value("CURSYM"))
        except FieldError as err:
            tx.currency = currency_node.value("CURSYM")
            problems.append(err.reason_for(source_file, f"{where} (<CURSYM>)"))

    raw_amount = trn.value("TRNAMT")
    try:
        tx.amount = pad_minor_units(_amount(raw_amount), tx.currency)
    except FieldError as err:
        problems.append(err.reason_for(source_file, f"{where} (<TRNAMT>)"))

    raw_posted = trn.value("DTPOSTED")
    try:
        tx.booking_date = _ofx_date(raw_posted)
    except FieldError as err:
        problems.append(err.reason_for(source_file, f"{where} (<DTPOSTED>)"))
    if trn.value("DTAVAIL"):
        try:
            tx.value_date = _ofx_date(trn.value("DTAVAIL"))
        except FieldError as err:
            problems.append(err.reason_for(source_file, f"{where} (<DTAVAIL>)"))

    action = trn.value("CORRECTACTION")
    if action:
        problems.append(
            reason(
                source_file,
                where,
                "a transaction (corrections are applied by a person)",
                f"CORRECTACTION {action} of FITID {trn.value('CORRECTFITID')!r}",
            )
        )
    if problems:
        tx.reject_reason = problems[0]
    return tx


def _amount(text: str) -> Decimal:
    raw = (text or "").strip()
    if "," in raw and "." not in raw:
        return parse_amount(raw, decimal_sep=",", expected="an amount like -1234.56")
    return parse_amount(raw, expected="an amount like -1234.56")


def _date_part(text: str) -> str:
    match = _DATE_RE.match(text or "")
    return "".join(match.groups()) if match else (text or "").strip()


def _ofx_date(text: str) -> date:
    match = _DATE_RE.match(text or "")
    if not match:
        raise FieldError("a date YYYYMMDD[hhmmss[.xxx][tz]]", found(text))
    try:
        return date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError:
        raise FieldError("a date YYYYMMDD[hhmmss[.xxx][tz]]", found(text)) from None


def _safe_date(text: str) -> date | None:
    try:
        return _ofx_date(text) if text else None
    except FieldError:
        return None
