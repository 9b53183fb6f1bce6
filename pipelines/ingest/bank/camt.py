"""ISO 20022 camt.053 statements, camt.054 notifications and camt.052 reports.

Namespace-agnostic over versions 001.02 to 001.13 (any ``camt.05x.001.NN`` namespace, or
none).

Safety (what defusedxml guards against, done before any XML parser sees the file): the prolog
is read and a ``<!DOCTYPE>`` is refused (camt never needs one; a DTD is how entity expansion,
"billion laughs", and external entities, XXE, get in). Every lxml parser used here also runs
with ``resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False``.

Two ways through a file, same records:

* **fast path** (UTF-8 documents in a default namespace, no comments, CDATA, processing
  instructions, inner namespace declarations or ``SplmtryData`` — what banks send):
  libxml2 first checks the whole file is well-formed without building a tree (C speed),
  then each ``<Ntry>`` is read from the bytes with patterns that follow the schema's
  element order. The usual entry (booked, dated, at most one detail, no return) is read in
  one go (:meth:`_Reader._plain_entry`); any other goes through :class:`_RawEntry` and
  :meth:`_Reader._entry`; an entry whose layout the patterns cannot place is parsed by
  lxml on its own. Statement headers are always parsed by lxml. Memory stays flat: files
  are memory-mapped and nothing is kept but the records.
* **lxml path** (anything else): ``lxml.etree.iterparse``, each entry dropped once read.

Both paths fill the same :class:`_RawEntry` and share :meth:`_Reader._entry`; the tests run
every fixture (and every fixture entry twice, for the one-go case) through both paths and
compare record for record. Why two: lxml needs ~20 µs an entry just to build the tree it
would walk, the fast path ~4 µs to check the file and ~35 µs to produce the records.

One record per transaction detail where an entry lists several details with their own
amounts (batch entries); otherwise one record per entry with the entry amount (a single
``TxDtls`` is taken as describing the whole entry, so an 86-payment batch summarised in one
detail is one record). Records are never invented from ``NbOfTxs``.

transaction_id (CONTRACT §1): ``make_transaction_id(account, AcctSvcrRef, detail)`` where the
bank gives an ``AcctSvcrRef`` (the detail's, else the entry's); otherwise
``make_transaction_id(account, statement identity, entry, detail)`` with the statement
identity ``Stmt/Id`` (``Ntfctn/Id``, ``Rpt/Id``), else ``<MsgId>/<statement position>``.
Positions are 1-based: entry = position of the ``Ntry`` in its statement, detail = position
of the ``TxDtls`` in its entry (1 when the record stands for the whole entry). Should the
same AcctSvcrRef occur again for the same account and position in one file, the k-th repeat
(k ≥ 1) gets ``k`` appended, so two genuine entries are never merged.

Dates: booking_date from ``BookgDt``; value_date from ``ValDt``, else the detail's
``RltdDts/IntrBkSttlmDt`` (the settlement date, e.g. on camt.054 ``INFO`` entries). The
statement's own dates are not copied onto entries: a record with no date at all is rejected
with a reason naming the elements looked for.

Pending entries (``Sts`` PDNG) are rejected ("expected a booked entry") and left out of the
balance check, since the closing booked balance does not include them.

remittance_info joins, in document order: every ``Ustrd``; in each ``Strd`` the referred
document numbers, the creditor reference and ``AddtlRmtInf``; the detail's ``AddtlTxInf``;
the return information ``RtrInf/AddtlInf``; the entry's ``AddtlNtryInf``.
structured_reference joins every ``Strd/CdtrRefInf/Ref`` (SCOR / ISO 11649 RF, QRR, ISR).
reversal_of is set when the reversed transaction is in the same file (same account and
EndToEndId with the opposite amount, or its bank reference named in ``RtrInf/AddtlInf``).
"""

from __future__ import annotations

import contextlib
import gc
import io
import mmap
import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import IO

from lxml import etree

from pipelines.ingest.bank.common import (
    FieldError,
    found,
    parse_amount,
    parse_currency,
    parse_iso_date,
)
from pipelines.ingest.bank.detect import XmlHead, camt_format, sniff_xml
from pipelines.ingest.bank.records import (
    ParseResult,
    Statement,
    Transaction,
    UnreadableFile,
    make_transaction_id,
)

__all__ = ["GUARD_BYTES", "parse", "parse_stream"]

# The prolog (declaration, comments, DOCTYPE) must end within this many bytes.
GUARD_BYTES = 1024 * 1024

_CONTAINERS = ("Stmt", "Ntfctn", "Rpt")
_PLAIN_AMOUNT = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")  # as parse_amount accepts it
_AMOUNT = "a decimal amount like 1234.56"
_DIRECTION = "CdtDbtInd CRDT or DBIT"
_NOT_PROVIDED = "NOTPROVIDED"
_PARSER_OPTIONS = {
    "resolve_entities": False,
    "no_network": True,
    "load_dtd": False,
    "dtd_validation": False,
    "huge_tree": False,
    "remove_comments": True,
    "remove_pis": True,
}


def _safe_parser() -> etree.XMLParser:
    return etree.XMLParser(**_PARSER_OPTIONS)


# --------------------------------------------------------------------------- entry points


def parse(data: bytes, source_file: str) -> ParseResult:
    """Read a camt.052/053/054 document from bytes (see the module docstring)."""
    return _parse_buffer(data, source_file)


def parse_stream(stream: IO[bytes], source_file: str) -> ParseResult:
    """Read a camt document from a binary stream; an open file is memory-mapped."""
    try:
        fileno = stream.fileno()
    except (AttributeError, OSError, io.UnsupportedOperation):
        fileno = -1
    mapped = None
    if fileno >= 0:
        with contextlib.suppress(OSError, ValueError):  # empty file, pipe, special file
            mapped = mmap.mmap(fileno, 0, access=mmap.ACCESS_READ)
    if mapped is None:
        stream.seek(0)
        return _parse_buffer(stream.read(), source_file)
    with mapped:
        return _parse_buffer(mapped, source_file)


def _parse_buffer(
    buf: bytes | mmap.mmap,
    source_file: str,
    *,
    allow_fast: bool = True,
    stats: dict[str, object] | None = None,
) -> ParseResult:
    """Parse a whole document; ``allow_fast=False`` forces the lxml path and ``stats``
    receives which path ran and how many entries the fast path handed to lxml (tests)."""
    head = buf[:GUARD_BYTES]
    fmt, xml = _guard(head, source_file)
    # lxml refuses whitespace before the XML declaration; skip it (and a UTF-8 BOM).
    start = 0
    utf16 = head.startswith((b"\xff\xfe", b"\xfe\xff"))
    if not utf16:
        start = 3 if head.startswith(b"\xef\xbb\xbf") else 0
        start += len(head[start:]) - len(head[start:].lstrip())
    reader = _Reader(source_file, fmt, xml.namespace)
    gc_was_enabled = gc.isenabled()
    gc.disable()  # records are acyclic; collecting during a 100k-entry file only costs time
    try:
        fast = None if utf16 or not allow_fast else _fast_path_body(head, start, xml)
        if fast is not None:
            facts = _validate(buf, start)
            if not _fast_path_ok(buf, fast, facts):
                fast = None
        if stats is not None:
            stats["path"] = "lxml" if fast is None else "fast"
        if fast is not None:
            reader.run_fast(buf, fast)
        else:
            if isinstance(buf, mmap.mmap):
                buf.seek(start)
                reader.run_lxml(buf)
            else:
                reader.run_lxml(io.BytesIO(buf[start:]))
    except etree.XMLSyntaxError as err:
        raise _syntax_error(err, source_file, buf) from None
    finally:
        if gc_was_enabled:
            gc.enable()
    reader.finish()
    if stats is not None:
        stats["fallbacks"] = reader.fallbacks
        stats["plain"] = reader.plain
    return reader.result


def _guard(head: bytes, source_file: str) -> tuple[str, XmlHead]:
    """Refuse anything that is not a DTD-free camt Document before parsing it."""
    xml = sniff_xml(head)
    if xml is None:
        raise UnreadableFile(
            source_file,
            "line 1",
            "an ISO 20022 camt XML document starting with '<'",
            found(head[:40].decode("latin-1")) if head.strip() else "an empty file",
        )
    if xml.doctype:
        raise UnreadableFile(
            source_file,
            f"line {xml.doctype_line}",
            "an ISO 20022 camt document without a DTD",
            "a <!DOCTYPE> declaration (refused: DTDs can expand entities or read other files)",
        )
    if not xml.root:
        raise UnreadableFile(
            source_file,
            "prolog",
            f"the root element <Document> within the first {GUARD_BYTES // 1024} KB",
            "no root element" if len(head) < GUARD_BYTES else "a longer prolog",
        )
    fmt = camt_format(xml)
    if fmt is None:
        ns = f" in namespace {xml.namespace!r}" if xml.namespace else " without a namespace"
        raise UnreadableFile(
            source_file,
            f"root element <{xml.root}>",
            "an ISO 20022 camt.052/053/054 <Document> (namespace urn:iso:std:iso:20022:"
            "tech:xsd:camt.05x.001.NN)",
            f"<{xml.root}>{ns}",
        )
    return fmt, xml


def _syntax_error(
    err: etree.XMLSyntaxError, source_file: str, buf: bytes | mmap.mmap
) -> UnreadableFile:
    line, column = err.position if err.position else (0, 0)
    message = (err.msg or str(err)).strip()
    if "encoding" in message or "UTF-8" in message:
        message += " (the file is not in the encoding its XML declaration names)"
    elif "Premature end" in message or "not finished" in message or _at_end(buf, line):
        message += " (the file looks truncated)"
    return UnreadableFile(source_file, f"line {line}, column {column}", "well-formed XML", message)


_DECLARED_ENCODING = re.compile(rb"""^<\?xml[^>]*?encoding\s*=\s*["']([^"']+)["']""")
_ROOT_START = re.compile(rb"<Document(?=[\s/>])")


def _fast_path_body(head: bytes, start: int, xml: XmlHead) -> int | None:
    """Where the body starts (after the root start tag) when the fast path may apply,
    judged from the head alone; :func:`_validate` and :func:`_fast_path_ok` check the rest.

    It applies to UTF-8/ASCII documents whose root is an unprefixed ``<Document>`` and
    whose body has no namespace declarations, comments, CDATA sections, processing
    instructions or ``SplmtryData`` (free-form XML that could hold anything).
    """
    declared = _DECLARED_ENCODING.match(head[start : start + 200])
    if declared and declared.group(1).lower().replace(b"_", b"-") not in (
        b"utf-8",
        b"utf8",
        b"us-ascii",
        b"ascii",
    ):
        return None
    root = _ROOT_START.search(head, start)
    if root is None:
        return None  # prefixed root (<ns0:Document>) or not found in the head
    root_end = head.find(b">", root.end())
    if root_end < 0:
        return None
    root_tag = head[root.start() : root_end]
    declarations = re.findall(rb"xmlns(?::([\w.-]+))?\s*=\s*[\"']([^\"']*)[\"']", root_tag)
    for prefix, uri in declarations:
        if prefix and uri == xml.namespace.encode():  # a prefix for the camt namespace
            return None
    if (
        head.find(b"<!--", start, root.start()) >= 0
        or head.find(b"<?", start + 2, root.start()) >= 0
    ):
        return None  # prolog comments or instructions: simpler to let lxml read it all
    return root_end + 1


class _FactsTarget:
    """A parser target that builds nothing: libxml2 checks well-formedness, and lxml calls
    back only for the rare things that rule the fast path out (comments, processing
    instructions). Namespace declarations are looked for with a plain search instead: a
    ``start_ns`` callback would slow every element down."""

    def __init__(self) -> None:
        self.comments = self.instructions = 0

    def comment(self, text: str) -> None:
        self.comments += 1

    def pi(self, target: str, data: str | None = None) -> None:
        self.instructions += 1

    def close(self) -> None:
        return None


def _at_end(buf: bytes | mmap.mmap, line: int) -> bool:
    """Whether an error on ``line`` is on the data's last non-blank line (a cut-off file)."""
    if line <= 0:
        return False
    tail = buf[max(0, len(buf) - 65536) :]
    content_end = len(buf) - (len(tail) - len(tail.rstrip()))
    step = 1 << 20
    newlines = sum(
        buf[i : min(i + step, content_end)].count(b"\n") for i in range(0, content_end, step)
    )
    return line >= newlines + 1


def _validate(buf: bytes | mmap.mmap, start: int) -> _FactsTarget:
    """Well-formedness of the whole file at C speed (raises XMLSyntaxError), and the facts
    the fast path needs."""
    facts = _FactsTarget()
    options = dict(_PARSER_OPTIONS, remove_comments=False, remove_pis=False)
    parser = etree.XMLParser(target=facts, **options)
    step = 1 << 20
    for offset in range(start, len(buf), step):
        parser.feed(buf[offset : offset + step])
    parser.close()
    return facts


def _fast_path_ok(buf: bytes | mmap.mmap, body: int, facts: _FactsTarget) -> bool:
    return (
        facts.comments == 0
        and facts.instructions == 0
        and buf.find(b"xmlns", body) < 0
        and buf.find(b"<![CDATA[", body) < 0
        and buf.find(b"<SplmtryData", body) < 0
    )


# --------------------------------------------------------------------------- raw fields


class _Detail:
    """The fields of one ``TxDtls``, as text, normalised the same way by both paths."""

    __slots__ = (
        "acct_svcr_ref",
        "amount",
        "amount_ccy",
        "amount_in_tx_amt",
        "cdi",
        "cdtr_acct",
        "cdtr_name",
        "dbtr_acct",
        "dbtr_name",
        "end_to_end_id",
        "return_info",
        "return_reason",
        "returned",
        "settlement_date",
        "structured",
        "texts",
    )

    def __init__(self) -> None:
        self.acct_svcr_ref = self.end_to_end_id = self.cdi = ""
        self.amount: str | None = None  # None: the detail has no amount element
        self.amount_ccy = ""
        self.amount_in_tx_amt = False
        self.dbtr_name = self.dbtr_acct = self.cdtr_name = self.cdtr_acct = ""
        self.texts: list[str] = []
        self.structured: list[str] = []
        self.returned = False
        self.return_reason = ""
        self.return_info: list[str] = []
        self.settlement_date = ""

    def as_tuple(self) -> tuple:
        return tuple(getattr(self, name) for name in self.__slots__)


class _RawEntry:
    """The fields of one ``Ntry`` as text (what both paths extract, before any checking)."""

    __slots__ = (
        "acct_svcr_ref",
        "addtl_ntry",
        "amount",
        "booking",
        "ccy",
        "cdi",
        "details",
        "rvsl",
        "status",
        "value",
    )

    def __init__(self) -> None:
        self.amount: str | None = None
        self.ccy = self.cdi = self.rvsl = self.status = self.acct_svcr_ref = ""
        self.addtl_ntry = ""
        self.booking: tuple[str, str] | None = None  # (text, "Dt" | "DtTm")
        self.value: tuple[str, str] | None = None
        self.details: list[_Detail] = []

    def as_tuple(self) -> tuple:
        return tuple(
            [d.as_tuple() for d in self.details] if name == "details" else getattr(self, name)
            for name in self.__slots__
        )


def _clean(value: str | None) -> str:
    return " ".join(value.split()) if value else ""


def _strip(elem: etree._Element | None) -> str:
    if elem is None:
        return ""
    value = elem.text
    return value.strip() if value else ""


def _text(elem: etree._Element | None, path: str) -> str:
    if elem is None:
        return ""
    value = elem.findtext(path)
    return value.strip() if value else ""


class _NeedsLxml(Exception):
    """The fast patterns do not recognise this entry's layout: read it with lxml."""


# --------------------------------------------------------------------------- the reader


@dataclass
class _StatementState:
    elem: etree._Element | None  # the container (lxml path) or its parsed header (fast path)
    tag: str
    index: int  # 1-based position among the file's statements
    header_read: bool = False
    statement: Statement = field(default_factory=Statement)
    identity: str = ""
    entry_count: int = 0
    acct_currency: str = ""


class _Reader:
    def __init__(self, source_file: str, fmt: str, ns: str):
        self.source_file = source_file
        self.ns = ns
        self.cut = len(ns) + 2 if ns else 0
        self.result = ParseResult(format=fmt)
        self.msg_id = ""
        self.current: _StatementState | None = None
        self.statement_count = 0
        self.ref_seen: dict[tuple[str, str, int], int] = {}
        self.currencies: dict[str, str] = {}  # raw code → checked ISO 4217 code
        self.dates: dict[str, date] = {}
        self.tag_ntry_dtls = self.q("NtryDtls")
        self.tag_tx_dtls = self.q("TxDtls")
        self.tag_rmt_inf = self.q("RmtInf")
        self.ns_attr = f' xmlns="{ns}"'.encode() if ns else b""
        self.fallbacks = 0  # entries the fast path handed to lxml (for tests)
        self.plain = 0  # entries read by the one-go common case (for tests)

    def q(self, path: str) -> str:
        """``path`` with the document's namespace on every step."""
        if not self.ns:
            return path
        return "/".join(f"{{{self.ns}}}{part}" for part in path.split("/"))

    # -- lxml path ----------------------------------------------------------------------------

    def run_lxml(self, stream: IO[bytes]) -> None:
        q = self.q
        cut = self.cut
        tags = [q(t) for t in ("GrpHdr", "Ntry", *_CONTAINERS)]
        context = etree.iterparse(stream, events=("start", "end"), tag=tags, **_PARSER_OPTIONS)
        for event, elem in context:
            tag = elem.tag[cut:]
            if event == "start":
                if tag in _CONTAINERS and self._is_top_level(elem):
                    self._open(elem, tag)
                continue
            current = self.current
            if tag == "Ntry":
                if current is not None and elem.getparent() is current.elem:
                    self._entry(self._raw_from_element(elem), current)
                    current.elem.remove(elem)
            elif tag == "GrpHdr":
                self.msg_id = (elem.findtext(q("MsgId")) or "").strip()
                elem.clear()
            elif current is not None and elem is current.elem:
                self._close(current)
                parent = elem.getparent()
                elem.clear()
                if parent is not None:
                    parent.remove(elem)

    @staticmethod
    def _is_top_level(elem: etree._Element) -> bool:
        message = elem.getparent()
        return (
            message is not None
            and (root := message.getparent()) is not None
            and (root.getparent() is None)
        )

    # -- fast path ----------------------------------------------------------------------------

    _LOCATE = re.compile(rb"<(Stmt|Ntfctn|Rpt|GrpHdr)(?=[\s/>])")

    def run_fast(self, buf: bytes | mmap.mmap, body: int) -> None:
        """Walk the validated document's statements and entries straight from the bytes."""
        pos = body
        while True:
            match = self._LOCATE.search(buf, pos)
            if match is None:
                return
            name = match.group(1)
            tag_end = buf.find(b">", match.end())
            if name == b"GrpHdr":
                end = self._GRP_HDR_END.search(buf, tag_end)
                if end is not None and buf[tag_end - 1] != 0x2F:  # not <GrpHdr/>
                    segment = buf[match.start() : end.start()] + b"</GrpHdr>"
                    self.msg_id = _text(self._element(segment, 6), self.q("MsgId"))
                pos = tag_end + 1
            elif buf[tag_end - 1] == 0x2F:  # an empty <Stmt/>
                self._open(self._element(b"<" + name + b"/>", len(name)), name.decode())
                self._close(self.current)
                pos = tag_end + 1
            else:
                pos = self._fast_container(buf, name, match.start(), tag_end + 1)

    _NTRY_START = re.compile(rb"<Ntry(?:\s[^>]*)?(/?)>")
    _NTRY_END = re.compile(rb"</Ntry\s*>")
    _GRP_HDR_END = re.compile(rb"</GrpHdr\s*>")
    _CLOSE = {name: re.compile(rb"</" + name + rb"\s*>") for name in (b"Stmt", b"Ntfctn", b"Rpt")}

    def _fast_container(self, buf: bytes | mmap.mmap, name: bytes, start: int, pos: int) -> int:
        """One statement: its header through lxml, its entries from the bytes. Returns the
        position after its end tag."""
        close = self._CLOSE[name]
        find_start = self._NTRY_START.search
        find_end = self._NTRY_END.search
        opened = False
        while True:
            entry = find_start(buf, pos)
            end = close.search(buf, pos, entry.start() if entry is not None else len(buf))
            if end is not None or entry is None:  # the statement ends before the next entry
                if end is None:
                    end = close.search(buf, pos)
                if not opened:
                    self._open_fast(buf, name, start, end.start())
                self._close(self.current)
                return end.end()
            if not opened:
                self._open_fast(buf, name, start, entry.start())
                opened = True
            # <Ntry/> ends where it starts
            pos = entry.end() if entry.group(1) else find_end(buf, entry.end()).end()
            self._fast_entry(buf[entry.start() : pos])

    def _element(self, segment: bytes, name_length: int) -> etree._Element:
        """Parse one element cut from the document, giving it the document's namespace."""
        data = segment[: name_length + 1] + self.ns_attr + segment[name_length + 1 :]
        return etree.fromstring(data, _safe_parser())

    def _open_fast(self, buf: bytes | mmap.mmap, name: bytes, start: int, end: int) -> None:
        segment = buf[start:end] + b"</" + name + b">"
        header = self._element(segment, len(name))
        self._open(header, name.decode())
        assert self.current is not None
        self._read_header(self.current)

    def _fast_entry(self, segment: bytes) -> None:
        current = self.current
        if self._plain_entry(segment, current):
            self.plain += 1
            return
        try:
            raw = _raw_from_bytes(segment)
        except _NeedsLxml:
            self.fallbacks += 1
            raw = self._raw_from_element(self._element(segment, 4))
        self._entry(raw, current)

    def _plain_entry(self, segment: bytes, st: _StatementState) -> bool:
        """The common entry, in one go: booked, dated, valid amount and currency, at most one
        detail, no return, no entity references. Returns False, having changed nothing, for
        anything else; :meth:`_entry` then handles it (and is what this must agree with)."""
        text = segment.decode("utf-8")
        if "&" in text or "\r" in text:
            return False
        head = _HEAD.match(text)
        if head is None:
            return False
        ccy, amount, cdi, rvsl, sts_cd, sts, _, bd, _, vd, ref = head.groups()
        if (
            amount is None
            or (rvsl is not None and rvsl != "false")
            or (cdi != "CRDT" and cdi != "DBIT")
            or (sts_cd or sts or "BOOK") not in ("BOOK", "INFO")
            or not _PLAIN_AMOUNT.fullmatch(amount)
        ):
            return False
        dates = self.dates
        booking = value = None
        if bd:
            booking = dates.get(bd)
            if booking is None:
                return False  # new date string: the general path parses and caches it
        if vd:
            value = dates.get(vd)
            if value is None:
                return False
        if booking is None and value is None:
            return False
        dtls_at = text.find("<NtryDtls")
        end = dtls_at if dtls_at >= 0 else len(text)
        if _HEAD_TAGS.search(text, head.end(), end) or "<AddtlNtryInf" in text:
            return False
        currency = self.currencies.get(ccy or st.acct_currency)
        if currency is None:
            return False
        name = account = e2e = remittance = structured = ""
        ref_detail = ""
        if dtls_at >= 0:
            start = text.find("<TxDtls", dtls_at)
            if start >= 0:
                if text[start + 7 : start + 8] != ">" or text.find("<TxDtls", start + 8) >= 0:
                    return False  # several details, or one with attributes / empty
                detail = _DHEAD.match(text, start)
                if detail is None:
                    return False
                refs, _, d_amount, d_cdi = detail.groups()
                after = detail.end()
                if (d_cdi is not None and d_cdi != cdi) or (
                    refs is None and text.find("<Refs", after) >= 0  # Refs out of place
                ):
                    return False
                if "<TxAmt" in text:
                    if _TX_AMT.search(text, after) is None or "<AmtDtls>" not in text:
                        return False
                    d_amount = "TxAmt"
                if refs:
                    pairs = _REFS.findall(refs)
                    if len(pairs) != refs.count("<AcctSvcrRef") + refs.count("<EndToEndId"):
                        return False
                    first = dict(reversed(pairs))
                    ref_detail = first.get("AcctSvcrRef", "").strip()
                    e2e = first.get("EndToEndId", "").strip()
                    if e2e.upper() == _NOT_PROVIDED:
                        e2e = ""
                money_in = cdi == "CRDT"
                texts: list[str] = []
                refs_found: list[str] = []
                roles: dict[int, str] = {}
                for item in _ITEM.finditer(text, after):
                    kind = item.lastindex
                    if kind >= 11:
                        if kind == 12:  # AddtlTxInf
                            value_text = _clean(item.group(12))
                            if value_text:
                                texts.append(value_text)
                            continue
                        if (
                            kind == 14
                            and (d_amount if item.group(14) == "Amt" else d_cdi) is not None
                        ):
                            continue  # nested amounts (AmtDtls, charges) beside its own
                        return False  # returns, unknown layouts
                    if kind <= 5:
                        role = _ITEM_ROLE[item.group(1) or item.group(3)]
                        if role not in roles:
                            roles[role] = item.group(kind)
                        continue
                    if kind == 10:
                        if value is None:
                            return False  # the settlement date would be the value date
                        continue
                    value_text = _clean(item.group(kind))
                    if value_text:
                        texts.append(value_text)
                        if kind == 8:
                            refs_found.append(value_text)
                if roles:
                    if money_in:
                        name = roles.get(0, "").strip() or roles.get(1, "").strip()
                        account = roles.get(4, "").strip()
                    else:
                        name = roles.get(2, "").strip() or roles.get(3, "").strip()
                        account = roles.get(5, "").strip()
                if texts:
                    remittance = " | ".join(dict.fromkeys(texts))
                if refs_found:
                    structured = " | ".join(dict.fromkeys(refs_found))

        # from here on the entry is accepted: update the statement and append the record
        if not st.header_read:
            self._read_header(st)
        st.entry_count = n = st.entry_count + 1
        stmt = st.statement
        decimal = Decimal(amount)
        if cdi == "CRDT":
            stmt.entries_total += decimal
        else:
            stmt.entries_total -= decimal
            decimal = -decimal
        if not stmt.currency:
            stmt.currency = ccy or st.acct_currency
        account_id = stmt.account
        tx = Transaction(
            account=account_id,
            statement_id=stmt.statement_id,
            sequence_number=stmt.sequence_number,
            booking_date=booking,
            value_date=value,
            amount=decimal,
            currency=currency,
            counterparty_name=name,
            counterparty_account=account,
            remittance_info=remittance,
            structured_reference=structured,
            end_to_end_id=e2e,
            source_file=self.source_file,
            location=f"{st.tag}[{st.index}]/Ntry[{n}]",
        )
        ref = ref_detail or (ref.strip() if ref else "")
        if ref:
            tx.bank_reference = ref
            key = (account_id, ref, 1)
            repeat = self.ref_seen.get(key, 0)
            self.ref_seen[key] = repeat + 1
            if repeat:
                tx.transaction_id = make_transaction_id(account_id, ref, 1, repeat)
            else:
                tx.transaction_id = make_transaction_id(account_id, ref, 1)
        else:
            tx.transaction_id = make_transaction_id(account_id, st.identity, n, 1)
        self.result.transactions.append(tx)
        return True

    # -- statements ---------------------------------------------------------------------------

    def _open(self, elem: etree._Element, tag: str) -> None:
        self.statement_count += 1
        self.current = _StatementState(elem, tag, self.statement_count)

    def _read_header(self, st: _StatementState) -> None:
        q = self.q
        el = st.elem
        st.header_read = True
        stmt = st.statement
        stmt.source_file = self.source_file
        stmt.statement_id = _text(el, q("Id"))
        stmt.sequence_number = _text(el, q("ElctrncSeqNb")) or _text(el, q("LglSeqNb"))
        st.identity = stmt.statement_id or f"{self.msg_id}/{st.index}"
        acct = el.find(q("Acct"))
        if acct is not None:
            stmt.account = _text(acct, q("Id/IBAN")) or _text(acct, q("Id/Othr/Id"))
            st.acct_currency = _text(acct, q("Ccy"))
        stmt.currency = st.acct_currency
        for name, path in (("from_date", "FrToDt/FrDtTm"), ("to_date", "FrToDt/ToDtTm")):
            raw = _text(el, q(path))
            if raw:
                with contextlib.suppress(FieldError):  # informational: entries have dates
                    setattr(stmt, name, parse_iso_date(raw))
        balances: dict[str, Decimal] = {}
        for bal in el.iterfind(q("Bal")):
            code = (_text(bal, q("Tp/CdOrPrtry/Cd")) or _text(bal, q("Tp/CdOrPrtry/Prtry"))).upper()
            if code not in ("OPBD", "PRCD", "CLBD") or code in balances:
                continue
            amt = bal.find(q("Amt"))
            try:
                value = parse_amount(amt.text if amt is not None else None)
            except FieldError:
                continue  # an unreadable balance leaves the check not_checkable
            if _text(bal, q("CdtDbtInd")).upper() == "DBIT":  # no CdtDbtInd: credit
                value = -value
            if not stmt.currency and amt is not None:
                stmt.currency = (amt.get("Ccy") or "").strip()
            balances[code] = value
        stmt.opening_balance = balances.get("OPBD", balances.get("PRCD"))
        stmt.closing_balance = balances.get("CLBD")

    def _close(self, st: _StatementState | None) -> None:
        if st is None:
            return
        if not st.header_read:
            self._read_header(st)
        stmt = st.statement
        stmt.entry_count = st.entry_count
        stmt.check_balance()
        self.result.statements.append(stmt)
        self.current = None

    def finish(self) -> None:
        if self.statement_count == 0:
            raise UnreadableFile(
                self.source_file, "Document", "at least one <Stmt>, <Ntfctn> or <Rpt>", "none"
            )
        self._link_reversals()

    # -- element extraction (lxml path, and fast-path fallback) -------------------------------

    def kids(self, elem: etree._Element) -> dict[str, etree._Element]:
        """The first child element of each local name (one pass, no path evaluation)."""
        cut = self.cut
        first: dict[str, etree._Element] = {}
        for child in elem:
            tag = child.tag
            if tag.__class__ is str:
                first.setdefault(tag[cut:], child)
        return first

    def _raw_from_element(self, ntry: etree._Element) -> _RawEntry:
        raw = _RawEntry()
        k = self.kids(ntry)
        amt = k.get("Amt")
        if amt is not None:
            raw.amount = amt.text or ""
            raw.ccy = (amt.get("Ccy") or "").strip()
        raw.cdi = _strip(k.get("CdtDbtInd"))
        raw.rvsl = _strip(k.get("RvslInd"))
        sts = k.get("Sts")
        if sts is not None:
            raw.status = (sts.text or "").strip() or _strip(next(iter(sts), None))
        raw.booking = self._date_element(k.get("BookgDt"))
        raw.value = self._date_element(k.get("ValDt"))
        raw.acct_svcr_ref = _strip(k.get("AcctSvcrRef"))
        raw.addtl_ntry = _clean(k["AddtlNtryInf"].text) if "AddtlNtryInf" in k else ""
        raw.details = [
            self._detail_from_element(d)
            for dtls in ntry.iterchildren(self.tag_ntry_dtls)
            for d in dtls.iterchildren(self.tag_tx_dtls)
        ]
        return raw

    def _date_element(self, container: etree._Element | None) -> tuple[str, str] | None:
        if container is None:
            return None
        for child in container:
            text = (child.text or "").strip()
            if text and child.tag.__class__ is str:
                return text, child.tag[self.cut :]
        return None

    def _party(self, party: etree._Element | None) -> str:
        if party is None:
            return ""
        k = self.kids(party)
        name = k.get("Nm")
        if name is None and "Pty" in k:
            name = self.kids(k["Pty"]).get("Nm")
        return _strip(name)

    def _account(self, acct: etree._Element | None) -> str:
        if acct is None:
            return ""
        ident = self.kids(acct).get("Id")
        if ident is None:
            return ""
        k = self.kids(ident)
        if "IBAN" in k:
            return _strip(k["IBAN"])
        other = k.get("Othr")
        return _strip(self.kids(other).get("Id")) if other is not None else ""

    def _detail_from_element(self, detail: etree._Element) -> _Detail:
        d = _Detail()
        k = self.kids(detail)
        refs = k.get("Refs")
        if refs is not None:
            rk = self.kids(refs)
            d.acct_svcr_ref = _strip(rk.get("AcctSvcrRef"))
            e2e = _strip(rk.get("EndToEndId"))
            d.end_to_end_id = "" if e2e.upper() == _NOT_PROVIDED else e2e
        amt = None
        amt_dtls = k.get("AmtDtls")
        if amt_dtls is not None:
            tx_amt = self.kids(amt_dtls).get("TxAmt")
            if tx_amt is not None:
                amt = self.kids(tx_amt).get("Amt")
                d.amount_in_tx_amt = amt is not None
        if amt is None:
            amt = k.get("Amt")
        if amt is not None:
            d.amount = amt.text or ""
            d.amount_ccy = (amt.get("Ccy") or "").strip()
        d.cdi = _strip(k.get("CdtDbtInd")).upper()
        pties = k.get("RltdPties")
        if pties is not None:
            pk = self.kids(pties)
            d.dbtr_name = self._party(pk.get("Dbtr")) or self._party(pk.get("UltmtDbtr"))
            d.cdtr_name = self._party(pk.get("Cdtr")) or self._party(pk.get("UltmtCdtr"))
            d.dbtr_acct = self._account(pk.get("DbtrAcct"))
            d.cdtr_acct = self._account(pk.get("CdtrAcct"))
        cut = self.cut
        for rmt in detail.iterchildren(self.tag_rmt_inf):
            for part in rmt:
                tag = part.tag[cut:] if part.tag.__class__ is str else ""
                if tag == "Ustrd":
                    d.texts.append(_clean(part.text))
                elif tag == "Strd":
                    for sub in part:
                        stag = sub.tag[cut:] if sub.tag.__class__ is str else ""
                        if stag == "AddtlRmtInf":
                            d.texts.append(_clean(sub.text))
                        elif stag == "CdtrRefInf":
                            ref = _clean(_strip(self.kids(sub).get("Ref")))
                            d.texts.append(ref)
                            d.structured.append(ref)
                        elif stag == "RfrdDocInf":
                            d.texts.append(_clean(_strip(self.kids(sub).get("Nb"))))
        addtl = k.get("AddtlTxInf")
        if addtl is not None:
            d.texts.append(_clean(addtl.text))
        rtr = k.get("RtrInf")
        if rtr is not None:
            d.returned = True
            rsn = self.kids(rtr).get("Rsn")
            if rsn is not None:
                rk = self.kids(rsn)
                d.return_reason = _strip(rk.get("Cd")) or _strip(rk.get("Prtry"))
            d.return_info = [
                _clean(el.text) for el in rtr.iterchildren(self.q("AddtlInf")) if el.text
            ]
        dts = k.get("RltdDts")
        if dts is not None:
            d.settlement_date = _strip(self.kids(dts).get("IntrBkSttlmDt"))
        d.texts = [t for t in d.texts if t]
        d.structured = [s for s in d.structured if s]
        return d

    # -- records ------------------------------------------------------------------------------

    def _iso(self, raw: str) -> date:
        cached = self.dates.get(raw)
        if cached is None:
            cached = self.dates[raw] = parse_iso_date(raw)
        return cached

    def _entry(self, raw: _RawEntry, st: _StatementState) -> None:
        """Check one entry's fields and append its record(s)."""
        if not st.header_read:
            self._read_header(st)
        st.entry_count = n = st.entry_count + 1
        src = self.source_file
        stmt = st.statement
        where = f"{st.tag}[{st.index}]/Ntry[{n}]"
        problems: list[str] = []

        amount: Decimal | None = None
        text = raw.amount
        if text is not None and _PLAIN_AMOUNT.fullmatch(text):
            amount = Decimal(text)
        else:
            try:
                amount = parse_amount(text, expected=_AMOUNT)
            except FieldError as err:
                problems.append(err.reason_for(src, f"{where}/Amt (entry {n})"))
        entry_ccy = raw.ccy or st.acct_currency
        direction = raw.cdi if raw.cdi in ("CRDT", "DBIT") else raw.cdi.upper()
        if direction not in ("CRDT", "DBIT"):
            problems.append(
                FieldError(_DIRECTION, found(raw.cdi or None)).reason_for(
                    src, f"{where}/CdtDbtInd (entry {n})"
                )
            )
        pending = raw.status == "PDNG" or (raw.status and raw.status.upper() == "PDNG")
        if pending:
            problems.append(
                f"{src}, {where}/Sts (entry {n}): expected a booked entry (Sts BOOK or INFO), "
                "found 'PDNG' (pending, not yet on the account)"
            )
        if not stmt.currency:
            stmt.currency = entry_ccy
        if amount is not None and not pending:
            if direction == "CRDT":
                stmt.entries_total += amount
            elif direction == "DBIT":
                stmt.entries_total -= amount

        booking = value_date = None
        if raw.booking is not None:
            booking = self.dates.get(raw.booking[0])
            if booking is None:
                booking = self._date(raw.booking, "BookgDt", where, n, problems)
        if raw.value is not None:
            value_date = self.dates.get(raw.value[0])
            if value_date is None:
                value_date = self._date(raw.value, "ValDt", where, n, problems)
        is_reversal = raw.rvsl.lower() in ("true", "1") if raw.rvsl else False

        details = raw.details
        split = len(details) > 1 and any(d.amount is not None for d in details)
        groups = [[d] for d in details] if split else [details]

        for position, group in enumerate(groups, 1):
            tx_problems = problems[:] if problems else []
            sign = direction
            ccy = entry_ccy
            tx_amount = amount
            if split:
                own = group[0]
                dwhere = f"{where}/NtryDtls/TxDtls[{position}]"
                ccy_path = f"{where}/Amt/@Ccy"
                if own.amount is None:
                    tx_amount = None
                    tx_problems.append(
                        f"{src}, {dwhere} (entry {n}): expected an amount for each transaction "
                        "detail (TxDtls/AmtDtls/TxAmt/Amt or TxDtls/Amt) as the entry lists "
                        "several with amounts, found none"
                    )
                else:
                    amt_path = "AmtDtls/TxAmt/Amt" if own.amount_in_tx_amt else "Amt"
                    try:
                        tx_amount = parse_amount(own.amount, expected=_AMOUNT)
                    except FieldError as err:
                        tx_amount = None
                        tx_problems.append(err.reason_for(src, f"{dwhere}/{amt_path} (entry {n})"))
                    if own.amount_ccy:
                        ccy = own.amount_ccy
                        ccy_path = f"{dwhere}/{amt_path}/@Ccy"
                if own.cdi:
                    sign = own.cdi
                    if sign not in ("CRDT", "DBIT"):
                        tx_problems.append(
                            FieldError(_DIRECTION, found(own.cdi)).reason_for(
                                src, f"{dwhere}/CdtDbtInd (entry {n})"
                            )
                        )
            else:
                dwhere = where
                ccy_path = ""
            currency = self.currencies.get(ccy)
            if currency is None:
                try:
                    currency = self.currencies[ccy] = parse_currency(ccy)
                except FieldError as err:
                    currency = ccy
                    tx_problems.append(
                        err.reason_for(src, f"{ccy_path or where + '/Amt/@Ccy'} (entry {n})")
                    )
            if tx_amount is not None and sign == "DBIT":
                tx_amount = -tx_amount
            tx = Transaction(
                account=stmt.account,
                statement_id=stmt.statement_id,
                sequence_number=stmt.sequence_number,
                booking_date=booking,
                value_date=value_date,
                amount=tx_amount,
                currency=currency,
                source_file=src,
                is_reversal=is_reversal,
                location=dwhere,
            )
            if group:
                self._describe(tx, group, raw.addtl_ntry, sign != "DBIT")
                if value_date is None:
                    for d in group:
                        if d.settlement_date:
                            try:
                                tx.value_date = self._iso(d.settlement_date)
                            except FieldError as err:
                                tx_problems.append(
                                    err.reason_for(
                                        src, f"{dwhere}/RltdDts/IntrBkSttlmDt (entry {n})"
                                    )
                                )
                            break
            elif raw.addtl_ntry:
                tx.remittance_info = raw.addtl_ntry
            if booking is None and tx.value_date is None:
                tx_problems.append(
                    f"{src}, {where} (entry {n}): expected a booking or value date "
                    "(Ntry/BookgDt, Ntry/ValDt or TxDtls/RltdDts/IntrBkSttlmDt), found none"
                )

            ref = (group[0].acct_svcr_ref if len(group) == 1 else "") or raw.acct_svcr_ref
            account = stmt.account
            if ref:
                tx.bank_reference = ref
                key = (account, ref, position)
                repeat = self.ref_seen.get(key, 0)
                self.ref_seen[key] = repeat + 1
                if repeat:
                    tx.transaction_id = make_transaction_id(account, ref, position, repeat)
                else:
                    tx.transaction_id = make_transaction_id(account, ref, position)
            else:
                tx.transaction_id = make_transaction_id(account, st.identity, n, position)
            if tx_problems:
                tx.reject_reason = "; ".join(dict.fromkeys(tx_problems))
            self.result.transactions.append(tx)

    def _date(
        self, value: tuple[str, str], name: str, where: str, n: int, problems: list[str]
    ) -> date | None:
        try:
            return self._iso(value[0])
        except FieldError as err:
            problems.append(
                err.reason_for(self.source_file, f"{where}/{name}/{value[1]} (entry {n})")
            )
            return None

    @staticmethod
    def _describe(tx: Transaction, details: list[_Detail], addtl_ntry: str, money_in: bool) -> None:
        """Counterparty (the payer for money in, the payee for money out), remittance text,
        references and return information, from the details that make up this record."""
        if len(details) == 1 and not details[0].returned:  # the common case, kept short
            d = details[0]
            tx.counterparty_name = d.dbtr_name if money_in else d.cdtr_name
            tx.counterparty_account = d.dbtr_acct if money_in else d.cdtr_acct
            tx.end_to_end_id = d.end_to_end_id
            texts = d.texts + [addtl_ntry] if addtl_ntry else d.texts
            if texts:
                tx.remittance_info = " | ".join(dict.fromkeys(texts))
            if d.structured:
                tx.structured_reference = " | ".join(dict.fromkeys(d.structured))
            return
        texts: list[str] = []
        structured: list[str] = []
        for d in details:
            if not tx.counterparty_name:
                tx.counterparty_name = d.dbtr_name if money_in else d.cdtr_name
            if not tx.counterparty_account:
                tx.counterparty_account = d.dbtr_acct if money_in else d.cdtr_acct
            if not tx.end_to_end_id:
                tx.end_to_end_id = d.end_to_end_id
            texts.extend(d.texts)
            structured.extend(d.structured)
            if d.returned:
                tx.is_reversal = True
                tx.return_reason = tx.return_reason or d.return_reason
                texts.extend(d.return_info)
        if addtl_ntry:
            texts.append(addtl_ntry)
        if texts:
            tx.remittance_info = " | ".join(t for t in dict.fromkeys(texts) if t)
        if structured:
            tx.structured_reference = " | ".join(s for s in dict.fromkeys(structured) if s)

    # -- after the file -----------------------------------------------------------------------

    def _link_reversals(self) -> None:
        """reversal_of: the original in this file — same account and EndToEndId with the
        opposite amount, or the original's bank reference named in the return information."""
        transactions = self.result.transactions
        reversals = [t for t in transactions if t.is_reversal and t.amount is not None]
        if not reversals:
            return
        by_e2e: dict[tuple[str, str], list[Transaction]] = {}
        by_ref: dict[tuple[str, str], list[Transaction]] = {}
        for tx in transactions:
            if tx.is_reversal or tx.reject_reason:
                continue
            if tx.end_to_end_id:
                by_e2e.setdefault((tx.account, tx.end_to_end_id), []).append(tx)
            if tx.bank_reference:
                by_ref.setdefault((tx.account, tx.bank_reference), []).append(tx)
        for tx in reversals:
            candidates = [
                o for o in by_e2e.get((tx.account, tx.end_to_end_id), []) if o.amount == -tx.amount
            ]
            if not candidates and by_ref:
                for token in re.findall(r"[\w/.-]+", tx.remittance_info):
                    candidates.extend(by_ref.get((tx.account, token), []))
                candidates = list({id(o): o for o in candidates}.values())
            if len(candidates) == 1:
                tx.reversal_of = candidates[0].transaction_id


# --------------------------------------------------------------------------- fast extraction
#
# Each entry is decoded once and read with a handful of patterns that follow the schema's
# element order (Ntry: NtryRef, Amt, CdtDbtInd, RvslInd, Sts, BookgDt, ValDt, AcctSvcrRef, …;
# TxDtls: Refs, Amt, CdtDbtInd, AmtDtls, …, RltdPties, …, RmtInf, RltdDts, …, RtrInf, …,
# AddtlTxInf). Wherever a pattern cannot tell what the element API would find, the entry
# goes to lxml instead (:class:`_NeedsLxml`), so both paths always agree.

_AMT = r"""<Amt(?:\s+Ccy\s*=\s*["']([^"'<>]*)["'])?\s*>([^<]*)</Amt>"""
_HEAD = re.compile(
    r"<Ntry>\s*(?:<NtryRef>[^<]*</NtryRef>\s*)?"
    r"(?:" + _AMT + r"\s*)?"
    r"(?:<CdtDbtInd>([^<]*)</CdtDbtInd>\s*)?"
    r"(?:<RvslInd>([^<]*)</RvslInd>\s*)?"
    r"(?:<Sts>\s*(?:<(?:Cd|Prtry)>([^<]*)</(?:Cd|Prtry)>\s*|([^<]*))</Sts>\s*)?"
    r"(?:<BookgDt>\s*<(Dt|DtTm)>([^<]*)</(?:Dt|DtTm)>\s*</BookgDt>\s*)?"
    r"(?:<ValDt>\s*<(Dt|DtTm)>([^<]*)</(?:Dt|DtTm)>\s*</ValDt>\s*)?"
    r"(?:<AcctSvcrRef>([^<]*)</AcctSvcrRef>)?"
)
_HEAD_TAGS = re.compile(r"<(?:RvslInd|Sts|BookgDt|ValDt|AcctSvcrRef)[\s/>]")
_DHEAD = re.compile(
    r"<TxDtls>\s*(?:<Refs>(.*?)</Refs>\s*)?(?:" + _AMT + r"\s*)?"
    r"(?:<CdtDbtInd>([^<]*)</CdtDbtInd>)?",
    re.S,
)
_REFS = re.compile(r"<(AcctSvcrRef|EndToEndId)>([^<]*)</(?:AcctSvcrRef|EndToEndId)>")
_TX_AMT = re.compile(r"<TxAmt>\s*" + _AMT)
# RmtInf: Ustrd*, Strd* (RfrdDocInf: Tp?, Nb; CdtrRefInf: Tp?, Ref; …; AddtlRmtInf*)
_TP = (
    r"(?:<Tp>\s*<CdOrPrtry>\s*<(?:Cd|Prtry)>[^<]*</(?:Cd|Prtry)>\s*</CdOrPrtry>\s*"
    r"(?:<Issr>[^<]*</Issr>\s*)?</Tp>\s*)?"
)
# one alternative per thing read from a TxDtls after its head; ``lastindex`` says which
_ITEM = re.compile(
    r"<(?=[ACDIRU])"  # a cheap first-letter filter: most tags in a detail stop here
    r"(?:(Dbtr|UltmtDbtr|Cdtr|UltmtCdtr)>\s*(?:<Pty>\s*)?<Nm>([^<]*)</Nm>"  # 1, 2
    r"|(DbtrAcct|CdtrAcct)>\s*<Id>\s*(?:<IBAN>([^<]*)</IBAN>|<Othr>\s*<Id>([^<]*)</Id>)"  # 3-5
    r"|Ustrd>([^<]*)</Ustrd>"  # 6
    r"|RfrdDocInf>\s*" + _TP + r"<Nb>([^<]*)</Nb>"  # 7
    r"|CdtrRefInf>\s*" + _TP + r"<Ref>([^<]*)</Ref>"  # 8
    r"|AddtlRmtInf>([^<]*)</AddtlRmtInf>"  # 9
    r"|IntrBkSttlmDt>([^<]*)</IntrBkSttlmDt>"  # 10
    r"|RtrInf>(.*?)</RtrInf>"  # 11
    r"|AddtlTxInf>([^<]*)</AddtlTxInf>"  # 12
    # any of those elements in a layout the patterns above do not know: lxml reads it
    r"|(Dbtr|UltmtDbtr|Cdtr|UltmtCdtr|DbtrAcct|CdtrAcct|Ustrd|RfrdDocInf|CdtrRefInf"
    r"|AddtlRmtInf|IntrBkSttlmDt|RtrInf|AddtlTxInf)[\s/>]"  # 13
    r"|(Amt|CdtDbtInd)[\s/>])",  # 14: nested (charges, AmtDtls) unless the head had none
    re.S,
)
_ITEM_ROLE = {"Dbtr": 0, "UltmtDbtr": 1, "Cdtr": 2, "UltmtCdtr": 3, "DbtrAcct": 4, "CdtrAcct": 5}
_ADDTL_NTRY = re.compile(r"<AddtlNtryInf>([^<]*)</AddtlNtryInf>")
_RSN = re.compile(r"<Rsn>\s*<(?:Cd|Prtry)>([^<]*)</")
_RTR_ADDTL = re.compile(r"<AddtlInf>([^<]*)</AddtlInf>")
_CHAR_REF = re.compile(r"&(#[0-9]+|#x[0-9a-fA-F]+|amp|lt|gt|quot|apos);")
_ENTITIES = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'"}


def _entity(match: re.Match[str]) -> str:
    name = match.group(1)
    if name[0] == "#":
        return chr(int(name[2:], 16) if name[1] in "xX" else int(name[1:]))
    return _ENTITIES[name]


def _unescape(value: str) -> str:
    """Character and predefined entity references, as an XML parser resolves them."""
    return _CHAR_REF.sub(_entity, value) if "&" in value else value


def _raw_from_bytes(segment: bytes) -> _RawEntry:
    """One ``<Ntry>…</Ntry>`` read from the bytes, or :class:`_NeedsLxml`."""
    text = segment.decode("utf-8")
    if "\r" in text:  # line ends as an XML parser normalises them
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    ent = "&" in text
    head = _HEAD.match(text)
    if head is None:
        raise _NeedsLxml
    (ccy, amount, cdi, rvsl, sts_cd, sts, bd_tag, bd, vd_tag, vd, ref) = head.groups()
    if amount is None or cdi is None:
        raise _NeedsLxml
    dtls_at = text.find("<NtryDtls")
    # a head element after the head (out of order, or twice) needs the tree
    if _HEAD_TAGS.search(text, head.end(), dtls_at if dtls_at >= 0 else len(text)):
        raise _NeedsLxml
    raw = _RawEntry()
    if ent:
        amount, ccy, cdi, ref = (_unescape(v) if v else v for v in (amount, ccy, cdi, ref))
        rvsl, sts_cd, sts, bd, vd = (_unescape(v) if v else v for v in (rvsl, sts_cd, sts, bd, vd))
    raw.amount = amount
    raw.ccy = ccy.strip() if ccy else ""
    raw.cdi = cdi.strip()
    if rvsl:
        raw.rvsl = rvsl.strip()
    status = sts_cd if sts_cd is not None else sts
    if status:
        raw.status = status.strip()
    if bd and bd.strip():
        raw.booking = (bd.strip(), bd_tag)
    if vd and vd.strip():
        raw.value = (vd.strip(), vd_tag)
    if ref:
        raw.acct_svcr_ref = ref.strip()
    if "<AddtlNtryInf" in text:
        addtl = _ADDTL_NTRY.search(text)
        if addtl is None:
            raise _NeedsLxml
        raw.addtl_ntry = _clean(_unescape(addtl.group(1)) if ent else addtl.group(1))
    if dtls_at >= 0:
        pos = dtls_at
        while True:
            start = text.find("<TxDtls", pos)
            if start < 0:
                break
            if text[start + 7 : start + 8] != ">":
                raise _NeedsLxml  # attributes or an empty <TxDtls/>: leave it to lxml
            end = text.find("</TxDtls>", start)
            raw.details.append(_detail_from_text(text[start:end], ent))
            pos = end
    return raw


def _detail_from_text(text: str, ent: bool) -> _Detail:
    d = _Detail()
    head = _DHEAD.match(text)
    if head is None:
        raise _NeedsLxml
    refs, ccy, amount, cdi = head.groups()
    after = head.end()
    if refs is None and text.find("<Refs", after) >= 0:
        raise _NeedsLxml  # Refs out of its place
    if refs:
        pairs = _REFS.findall(refs)
        if len(pairs) != refs.count("<AcctSvcrRef") + refs.count("<EndToEndId"):
            raise _NeedsLxml
        first = dict(reversed(pairs))  # the first of each name, as the element API finds it
        if ent:
            first = {name: _unescape(value) for name, value in first.items()}
        d.acct_svcr_ref = first.get("AcctSvcrRef", "").strip()
        e2e = first.get("EndToEndId", "").strip()
        d.end_to_end_id = "" if e2e.upper() == _NOT_PROVIDED else e2e
    if "<TxAmt" in text:
        match = _TX_AMT.search(text, after)
        if match is None or "<AmtDtls>" not in text:
            raise _NeedsLxml
        ccy, amount = match.groups()
        d.amount_in_tx_amt = True
    if amount is not None:
        d.amount = _unescape(amount) if ent else amount
        d.amount_ccy = (_unescape(ccy) if ent else ccy).strip() if ccy else ""
    if cdi is not None:
        d.cdi = (_unescape(cdi) if ent else cdi).strip().upper()
    # everything else in one pass, in document order; every element we read must have
    # matched its pattern (else the counts differ and lxml reads the entry)
    roles: dict[int, str] = {}
    for item in _ITEM.finditer(text, after):
        kind = item.lastindex
        value = item.group(kind)
        if kind >= 13:
            if kind == 13 or (amount if value == "Amt" else cdi) is None:
                raise _NeedsLxml  # unknown layout, or an amount/direction we cannot place
            continue
        if kind <= 5:  # a party's name (2) or account (4, 5): keep the first of each role
            role = _ITEM_ROLE[item.group(1) or item.group(3)]
            if role not in roles:
                roles[role] = value
            continue
        if kind == 11:  # RtrInf
            d.returned = True
            rsn = _RSN.search(value)
            if rsn is not None:
                d.return_reason = (_unescape(rsn.group(1)) if ent else rsn.group(1)).strip()
            elif "<Rsn" in value and ("<Cd" in value or "<Prtry" in value):
                raise _NeedsLxml
            for info in _RTR_ADDTL.findall(value):
                info = _clean(_unescape(info) if ent else info)
                if info:
                    d.return_info.append(info)
            continue
        if ent:
            value = _unescape(value)
        if kind == 10:  # IntrBkSttlmDt
            d.settlement_date = value.strip()
            continue
        value = _clean(value)
        if value:
            d.texts.append(value)  # Ustrd, RfrdDocInf/Nb, CdtrRefInf/Ref, AddtlRmtInf, AddtlTxInf
            if kind == 8:
                d.structured.append(value)
    if roles:
        if ent:
            roles = {k: _unescape(v) for k, v in roles.items()}
        d.dbtr_name = roles.get(0, "").strip() or roles.get(1, "").strip()
        d.cdtr_name = roles.get(2, "").strip() or roles.get(3, "").strip()
        d.dbtr_acct = roles.get(4, "").strip()
        d.cdtr_acct = roles.get(5, "").strip()
    return d
