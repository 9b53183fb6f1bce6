"""Which bank format a file is in, from its content (never its name: real files have none).

:func:`detect_format` looks at the first 64 KB only, so a 10 MB line of garbage is refused at
once. Format names: ``camt.052``, ``camt.053``, ``camt.054``, ``mt940``, ``mt942``, ``bai2``,
``ofx``, ``generic_csv``, ``csv_profile``. Unknown, binary or empty input raises
:class:`UnreadableFile` with a reason a person can act on.

:func:`sniff_xml` reads an XML prolog (BOM, declaration, comments, processing instructions,
DOCTYPE) and the root start tag without parsing the document; the camt reader uses it to
refuse DTDs before any XML parser sees them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pipelines.ingest.bank.generic_csv import generic_header_delimiter
from pipelines.ingest.bank.records import UnreadableFile

__all__ = [
    "FORMATS",
    "HEAD_BYTES",
    "XmlHead",
    "camt_format",
    "detect_format",
    "sniff_xml",
]

FORMATS: tuple[str, ...] = (
    "camt.052",
    "camt.053",
    "camt.054",
    "mt940",
    "mt942",
    "bai2",
    "ofx",
    "generic_csv",
    "csv_profile",
)

HEAD_BYTES = 64 * 1024

EXPECTED_ANY = (
    "a bank statement: ISO 20022 camt.052/053/054 XML, SWIFT MT940/MT942, BAI2, OFX/QFX, "
    "or CSV (the generic layout or a bank profile)"
)

_CAMT_NS_RE = re.compile(r"camt\.(05[234])\.001\.(\d{2})")
_CAMT_ROOT_CHILD = {
    "BkToCstmrAcctRpt": "camt.052",
    "BkToCstmrStmt": "camt.053",
    "BkToCstmrDbtCdtNtfctn": "camt.054",
}
_NAME = r"[A-Za-z_][\w.\-]*"
_START_TAG_RE = re.compile(rf"<(?:({_NAME}):)?({_NAME})((?:\s[^<>]*?)?)/?>", re.S)
_XMLNS_RE = re.compile(r"""xmlns(?::(\S+?))?\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_MT_TAG_RE = {
    tag: re.compile(rf"(?m)(?:^|\{{4:\s*|\x01)\s*{re.escape(tag)}")
    for tag in (":20:", ":25:", ":28C:", ":28:", ":60F:", ":60M:", ":34F:", ":13D:", ":62F:")
}
_SWIFT_TYPE_RE = re.compile(r"\{2:[IO](94[02])")
_CSV_DELIMITERS = (",", ";", "\t", "|")


@dataclass(frozen=True)
class XmlHead:
    """What the start of an XML document says about itself."""

    root: str = ""  # local name of the root element ("" when not reached)
    namespace: str = ""  # namespace of the root element
    doctype: bool = False  # a <!DOCTYPE …> (so possibly entity declarations) is present
    doctype_line: int = 0
    instructions: tuple[str, ...] = ()  # processing-instruction targets, e.g. ("xml", "OFX")
    first_child: str = ""  # local name of the root's first child element, when in the head


def _head_text(head: bytes) -> str:
    """The head as text good enough for sniffing (ASCII-compatible or UTF-16 with BOM)."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return head.decode("utf-16", errors="replace")
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    return head.decode("latin-1")


def sniff_xml(head: bytes) -> XmlHead | None:
    """Read the XML prolog and root start tag from the first bytes of a file.

    Returns ``None`` when the content does not start (after a BOM and whitespace) with ``<``.
    """
    text = _head_text(head)
    pos = len(text) - len(text.lstrip())
    if not text.startswith("<", pos):
        return None
    instructions: list[str] = []
    doctype = False
    doctype_line = 0
    while pos < len(text):
        if text.startswith("<?", pos):
            end = text.find("?>", pos)
            match = re.match(_NAME, text[pos + 2 :])
            instructions.append(match.group(0) if match else "")
            if end < 0:
                break
            pos = end + 2
        elif text.startswith("<!--", pos):
            end = text.find("-->", pos)
            if end < 0:
                break
            pos = end + 3
        elif text[pos : pos + 9].upper() == "<!DOCTYPE":
            doctype = True
            doctype_line = text.count("\n", 0, pos) + 1
            bracket = text.find("[", pos)
            close = text.find(">", pos)
            if 0 <= bracket < close:  # internal subset: skip to "]>"
                end = re.compile(r"\]\s*>").search(text, bracket)
                pos = end.end() if end else len(text)
            else:
                pos = close + 1 if close >= 0 else len(text)
        elif text.startswith("<", pos):
            match = _START_TAG_RE.match(text, pos)
            if not match:
                break
            prefix, local, attrs = match.group(1) or "", match.group(2), match.group(3) or ""
            namespaces = {
                (m.group(1) or ""): (m.group(2) if m.group(2) is not None else m.group(3))
                for m in _XMLNS_RE.finditer(attrs)
            }
            child = _START_TAG_RE.search(text, match.end())
            return XmlHead(
                root=local,
                namespace=namespaces.get(prefix, ""),
                doctype=doctype,
                doctype_line=doctype_line,
                instructions=tuple(instructions),
                first_child=child.group(2) if child else "",
            )
        else:
            pos += 1
            while pos < len(text) and text[pos].isspace():
                pos += 1
    return XmlHead(doctype=doctype, doctype_line=doctype_line, instructions=tuple(instructions))


def camt_format(xml: XmlHead) -> str | None:
    """``camt.05x`` for an ISO 20022 cash-management Document, else ``None``."""
    if xml.root != "Document":
        return None
    match = _CAMT_NS_RE.search(xml.namespace)
    if match:
        return f"camt.{match.group(1)}"
    return _CAMT_ROOT_CHILD.get(xml.first_child)


def _looks_binary(head: bytes) -> bool:
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return False  # UTF-16 text
    sample = head[:8192]
    if b"\x00" in sample:
        return True
    controls = sum(1 for b in sample if b < 32 and b not in (9, 10, 12, 13, 1, 3, 26))
    return controls > max(8, len(sample) // 100)


def _describe(head: bytes) -> str:
    sample = head[:40]
    printable = "".join(chr(b) if 32 <= b < 127 else "." for b in sample)
    return f"content starting {printable!r} (bytes {sample[:12].hex(' ')})"


def detect_format(data: bytes, source_file: str = "") -> str:
    """The format of a bank file from its first 64 KB (see the module docstring)."""
    head = data[:HEAD_BYTES]
    body = head[3:] if head.startswith(b"\xef\xbb\xbf") else head
    if not body.strip() and not data[len(head) :].strip():
        raise UnreadableFile(
            source_file, "file", EXPECTED_ANY, "an empty file" if not data else "only blank space"
        )
    text = _head_text(head)
    stripped = text.lstrip("\ufeff \t\r\n\x01")

    if stripped.startswith("<"):
        xml = sniff_xml(head)
        if xml is not None:
            camt = camt_format(xml)
            if camt:
                return camt
            if "OFX" in xml.instructions or xml.root.upper() == "OFX":
                return "ofx"
            if xml.doctype and not xml.root:
                raise UnreadableFile(
                    source_file,
                    f"line {xml.doctype_line}",
                    "an XML bank statement without a DTD",
                    "a <!DOCTYPE> declaration (DTDs are refused: they can expand entities "
                    "or read other files)",
                )
        if re.match(r"<OFX>", stripped, re.I):
            return "ofx"
        if xml is not None and not xml.root and len(data) <= HEAD_BYTES:
            raise UnreadableFile(
                source_file,
                f"line {text.count(chr(10)) + 1}",
                "an XML bank statement (camt or OFX) with a complete root element",
                "the end of the file before the root element (the file looks truncated)",
            )
        if xml is not None and xml.root:
            ns = f" in namespace {xml.namespace!r}" if xml.namespace else " without a namespace"
            raise UnreadableFile(
                source_file,
                f"root element <{xml.root}>",
                "an ISO 20022 camt.052/053/054 Document or an OFX file",
                f"<{xml.root}>{ns}",
            )

    if stripped.upper().startswith("OFXHEADER"):
        return "ofx"

    if re.match(r"01,", stripped):
        return "bai2"

    mt = _mt_format(text)
    if mt:
        return mt

    if _looks_binary(head):
        raise UnreadableFile(source_file, "byte 0", EXPECTED_ANY, "binary data: " + _describe(head))

    first_line = _first_line(stripped)
    if generic_header_delimiter(first_line) is not None:
        return "generic_csv"
    if _looks_like_csv(stripped):
        return "csv_profile"
    raise UnreadableFile(source_file, "line 1", EXPECTED_ANY, _describe(head))


def _mt_format(text: str) -> str | None:
    found = {tag for tag, rx in _MT_TAG_RE.items() if rx.search(text)}
    if ":20:" not in found or ":25:" not in found:
        return None
    swift = _SWIFT_TYPE_RE.search(text)
    if swift:
        return "mt940" if swift.group(1) == "940" else "mt942"
    if found & {":60F:", ":60M:", ":62F:"}:
        return "mt940"
    if found & {":34F:", ":13D:"}:
        return "mt942"
    if found & {":28C:", ":28:"}:
        return "mt940"
    return None


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line
    return ""


def _looks_like_csv(text: str) -> bool:
    lines = [line for line in text.splitlines()[:50] if line.strip()]
    if not lines:
        return False
    with_delims = sum(1 for line in lines if any(d in line for d in _CSV_DELIMITERS))
    return with_delims >= max(1, len(lines) // 2)
