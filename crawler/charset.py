"""Decide how to decode a page whose charset declarations may lie.

Chinese ad sites declare one charset and send another: 百姓网 pages seen through Baidu's cache
declare ``gb2312`` in the first kilobyte and are UTF-8; old portals send GBK under a UTF-8
header; saved pages start with a BOM. :func:`decide_charset` weighs every piece of evidence:

1. the source config's ``encoding``, when the operator set one (it always wins);
2. a byte-order mark (the HTML standard lets it override every declaration);
3. bytes that are valid UTF-8 and not plain ASCII: UTF-8, whatever was declared, because GBK
   text almost never forms valid UTF-8, while UTF-8 text often forms "valid" GBK mojibake;
4. the declarations in order (HTTP header, then each ``<meta>`` / XML declaration anywhere in the
   first 64 KiB, not only the first 1,024 bytes): the first that decodes the bytes cleanly;
5. GB18030 (a superset of GB2312 and GBK) when it decodes the bytes cleanly;
6. otherwise the candidate that needs the fewest replacement characters (a "lossy" decision).

When the declarations disagree with each other or with the bytes, the reading that decodes
cleanly wins and the decision's ``basis`` is ``overruled``. Labels are resolved as browsers do
(``gb2312`` and ``gbk`` mean GB18030). Plain functions, no Scrapy.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

from w3lib.encoding import http_content_type_encoding, read_bom, resolve_encoding

# Where declarations are looked for: real pages put the true <meta> after kilobytes of wrapper.
DECLARATION_WINDOW = 64 * 1024
_META_CHARSET = re.compile(
    rb"""<meta\b[^>]*?\bcharset\s*=\s*["']?\s*([A-Za-z0-9_.:\-]+)""", re.IGNORECASE
)
_XML_DECLARATION = re.compile(rb"""^\s*<\?xml[^>]*\bencoding\s*=\s*["']([A-Za-z0-9_.:\-]+)""")
_BINARY_MAGIC = (
    b"\x89PNG", b"GIF87a", b"GIF89a", b"\xff\xd8\xff", b"%PDF", b"PK\x03\x04", b"\x1f\x8b",
    b"7z\xbc\xaf", b"Rar!", b"\x7fELF", b"MZ", b"\x00\x00\x01\x00", b"BM", b"OggS", b"ID3",
    b"\x00asm", b"wOFF", b"wOF2",
)
_TEXT_CONTROLS = {0x09, 0x0A, 0x0C, 0x0D, 0x1B}


@dataclass(frozen=True)
class CharsetDecision:
    """How to decode a body: ``encoding`` is a Python codec name.

    ``basis`` says why: ``config``, ``bom``, ``declared`` (the first declaration, which decodes
    cleanly), ``overruled`` (declarations disagreed with each other or with the bytes; the reading
    that decodes cleanly won), ``detected`` (nothing declared; chosen from the bytes), ``ascii``
    (nothing but ASCII) or ``lossy`` (nothing decodes cleanly; fewest replacements).
    """

    encoding: str
    basis: str
    declared: tuple[str, ...] = ()


def _resolve(label: str | None) -> str | None:
    if not label:
        return None
    label = label.strip().strip("\"'").lower()
    if not label:
        return None
    try:
        name = resolve_encoding(label)
    except (LookupError, ValueError, TypeError):
        return None
    if not name:
        return None
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def declared_charsets(body: bytes, content_type: str | None = None) -> tuple[str, ...]:
    """Every charset the header and the document declare, resolved, in order, without repeats.

    A ``<meta>`` naming UTF-16 means UTF-8 (the bytes were already read as ASCII to find it).
    """
    found: list[str] = []
    if content_type:
        header = http_content_type_encoding(content_type)
        resolved = _resolve(header)
        if resolved:
            found.append(resolved)
    window = body[:DECLARATION_WINDOW]
    labels = [m.group(1) for m in _XML_DECLARATION.finditer(window)]
    labels += [m.group(1) for m in _META_CHARSET.finditer(window)]
    for raw in labels:
        resolved = _resolve(raw.decode("ascii", "ignore"))
        if resolved and resolved.startswith("utf-16"):
            resolved = "utf-8"
        if resolved:
            found.append(resolved)
    return tuple(dict.fromkeys(found))


def decodes_cleanly(body: bytes, encoding: str) -> bool:
    """Whether ``body`` decodes without a single error (an incomplete character at the very end,
    as when a server cuts a page short, is allowed)."""
    try:
        decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
        decoder.decode(body, final=False)
    except (UnicodeDecodeError, LookupError):
        return False
    return True


def _replacements(body: bytes, encoding: str) -> int:
    try:
        return body.decode(encoding, errors="replace").count("\ufffd")
    except LookupError:
        return len(body) + 1


def looks_binary(body: bytes) -> bool:
    """Whether a body is an image, archive or other binary file rather than text."""
    head = body[:1024]
    if not head:
        return False
    if read_bom(head)[0] is not None:
        return False
    if head.startswith(_BINARY_MAGIC):
        return True
    if b"\x00" in head:
        return True
    controls = sum(1 for byte in head if byte < 0x20 and byte not in _TEXT_CONTROLS)
    return controls > len(head) // 10


def decide_charset(
    body: bytes, content_type: str | None = None, override: str | None = None
) -> CharsetDecision:
    """Decide the encoding of ``body`` given its Content-Type header and a configured override."""
    return decide_and_decode(body, content_type, override)[0]


def decide_and_decode(
    body: bytes, content_type: str | None = None, override: str | None = None
) -> tuple[CharsetDecision, str | None]:
    """:func:`decide_charset`, and the text of ``body`` when deciding read it whole in the
    chosen encoding without an error (None otherwise: a BOM, a configured encoding, a lossy or
    cut-off body), so that the body need not be decoded again."""
    declared = declared_charsets(body, content_type)
    forced = _resolve(override)
    if forced:
        return CharsetDecision(forced, "config", declared), None
    bom_encoding, _ = read_bom(body)
    if bom_encoding:
        return CharsetDecision(codecs.lookup(bom_encoding).name, "bom", declared), None
    if body.isascii():
        ascii_safe = [d for d in declared if decodes_cleanly(body, d) and _is_ascii_superset(d)]
        return CharsetDecision(ascii_safe[0] if ascii_safe else "utf-8", "ascii", declared), None

    def basis_for(encoding: str) -> str:
        if not declared:
            return "detected"
        if declared[0] == encoding and all(d == encoding for d in declared):
            return "declared"
        return "overruled"

    for encoding in dict.fromkeys(("utf-8", *declared, "gb18030")):
        clean, text = _read_cleanly(body, encoding)
        if clean:
            return CharsetDecision(encoding, basis_for(encoding), declared), text
    candidates = [*declared, "utf-8", "gb18030"]
    best = min(candidates, key=lambda enc: (_replacements(body, enc), candidates.index(enc)))
    return CharsetDecision(best, "lossy", declared), None


def _read_cleanly(body: bytes, encoding: str) -> tuple[bool, str | None]:
    """(:func:`decodes_cleanly`, the text when the whole body decodes without an error)."""
    try:
        return True, body.decode(encoding)
    except UnicodeDecodeError:
        return decodes_cleanly(body, encoding), None
    except LookupError:
        return False, None


def _is_ascii_superset(encoding: str) -> bool:
    try:
        return "abc<>=\"'/ \n".encode(encoding) == b"abc<>=\"'/ \n"
    except (UnicodeEncodeError, LookupError):
        return False


def decode(body: bytes, content_type: str | None = None, override: str | None = None) -> str:
    """The text of ``body`` as :func:`decide_charset` reads it (BOM removed)."""
    decision = decide_charset(body, content_type, override)
    _, bom = read_bom(body)
    if decision.basis == "bom" and bom:
        body = body[len(bom):]
    return body.decode(decision.encoding, errors="replace")


__all__ = [
    "CharsetDecision", "decide_and_decode", "decide_charset", "declared_charsets", "decode",
    "decodes_cleanly", "looks_binary",
]
