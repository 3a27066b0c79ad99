"""Bytes of an HTML page to text, trusting a declared charset only when the bytes agree with it.

Order: a byte-order mark; the HTTP header's charset, then the page's own `<meta charset>` / XML declaration,
each used only if the bytes decode under it without error; detection (charset-normalizer); and last
windows-1252 with replacement characters, so that decoding never fails. Pages that are valid UTF-8 with
non-ASCII bytes are read as UTF-8 even when they declare a single-byte charset: a legacy charset almost never
produces valid multi-byte UTF-8 sequences by chance, while mislabelled UTF-8 pages are common.
"""

from __future__ import annotations

from charset_normalizer import from_bytes
from loguru import logger
from w3lib.encoding import html_body_declared_encoding, http_content_type_encoding, read_bom, resolve_encoding

# charset-normalizer gets at most this many bytes: its cost grows with input size, and the head and tail of
# a page carry enough text to tell its charset.
DETECTION_SAMPLE_BYTES = 64_000


def decode_html(data: bytes, url: str, declared: str | None = None) -> str:
    """Text of `data`. `declared` is the HTTP header's charset ("utf-8") or whole Content-Type value."""
    encoding, bom = read_bom(data)
    if encoding and bom:
        return data[len(bom) :].decode(encoding, errors="replace")
    candidates = [_resolve(declared, url), _resolve(html_body_declared_encoding(data), url)]
    for encoding in dict.fromkeys(c for c in candidates if c):
        text = _decode_strict(data, encoding)
        if text is not None:
            if encoding != "utf-8" and not data.isascii() and _decode_strict(data, "utf-8") is not None:
                logger.debug("page declares {} but is valid UTF-8, reading UTF-8 url={}", encoding, url)
                return data.decode("utf-8")
            return text
        logger.debug("page declares {} but its bytes are not {}, detecting url={}", encoding, encoding, url)
    text = _decode_strict(data, "utf-8")
    if text is not None:
        return text
    sample = data if len(data) <= DETECTION_SAMPLE_BYTES else data[: DETECTION_SAMPLE_BYTES // 2] + data[-DETECTION_SAMPLE_BYTES // 2 :]
    encoding = _detect(sample)
    text = _decode_strict(data, encoding) if encoding else None
    if text is not None:
        logger.debug("detected charset {} url={}", encoding, url)
        return text
    logger.debug("no charset fits, reading windows-1252 with replacements url={}", url)
    return data.decode("cp1252", errors="replace")


def _detect(sample: bytes) -> str | None:
    """charset-normalizer's best guess; among guesses it scores equally, windows-1252 (short Western texts
    score the same in cp1250, cp1252 and cp1257, and the first listed is not the likeliest on the web)."""
    matches = list(from_bytes(sample))
    if not matches:
        return None
    best = matches[0]
    tied = {m.encoding for m in matches if (m.chaos, m.coherence) == (best.chaos, best.coherence)}
    return "cp1252" if "cp1252" in tied else best.encoding


def _resolve(label: str | None, url: str) -> str | None:
    """A Python codec name for a charset label or Content-Type value; None for unknown or UTF-16/32 labels
    (without a byte-order mark such a label on an ASCII-compatible page is wrong, as browsers assume)."""
    if not label:
        return None
    encoding = resolve_encoding(label) or (resolve_encoding(http_content_type_encoding(label) or "") if ";" in label else None)
    if encoding is None:
        logger.debug("unknown charset {!r} ignored url={}", label, url)
        return None
    return None if encoding.startswith(("utf-16", "utf-32")) else encoding


def _decode_strict(data: bytes, encoding: str) -> str | None:
    try:
        return data.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        return None
