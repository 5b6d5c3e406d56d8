"""Texts hidden inside a text: base64 / base64url blobs (kubeconfig `client-key-data`, Kubernetes Secret data,
a service-account JSON pasted encoded), URL-encoding and JSON string escapes, decoded so that the secret
detectors can read them. Binary key material (PKCS#8 / PKCS#1 / SEC1 DER, OpenSSH keys) is recognised by its
header.

Decoding is bounded: at most MAX_BLOB_CHARS of one blob and MAX_DECODED_CHARS per text are decoded, so a prompt
of megabytes of base64 costs no more than a 4,000-character one."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator
from urllib.parse import unquote

MIN_BLOB_CHARS = 40  # shorter base64 hides nothing the detectors could judge (an RSA key is 1,600+)
MAX_BLOB_CHARS = 12_000  # a 4096-bit RSA PEM, base64-encoded once more, is ~4,400
MAX_DECODED_CHARS = 24_000  # per scanned text, all blobs together
# A blob may be wrapped over lines and indented (PEM bodies, YAML block scalars): line breaks inside it are read
# through, and each run is bounded so that the regex itself stays linear.
FIRST_RUN_CHARS = 20  # a blob starts with this many base64 characters in a row: a text without such a token has none
_BLOB = re.compile(
    rf"[A-Za-z0-9+/_-]{{{FIRST_RUN_CHARS},}}={{0,2}}(?:[ \t]*\r?\n[ \t]*[A-Za-z0-9+/_-]{{16,}}={{0,2}}){{0,200}}"
)
_FIRST_RUN = re.compile(rf"[A-Za-z0-9+/_-]{{{FIRST_RUN_CHARS}}}")
_URL_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")
_JSON_ESCAPES = ("\\n", "\\r", "\\t", "\\/", '\\"', "\\u00")
# DER headers of private keys (the first bytes after the length): PKCS#8 PrivateKeyInfo and PKCS#1 RSAPrivateKey
# start with INTEGER 0 (version); SEC1 ECPrivateKey with INTEGER 1 then an OCTET STRING. A certificate starts
# with a nested SEQUENCE instead, a public key (SubjectPublicKeyInfo) too.
_DER_VERSION_AFTER_SEQUENCE = (b"\x02\x01\x00\x30", b"\x02\x01\x00\x02", b"\x02\x01\x01\x04")
_OPENSSH_MAGIC = b"openssh-key-v1\x00"
_PPK_MAGIC = b"PuTTY-User-Key-File"


def _der_body(data: bytes) -> bytes | None:
    """The content of an outer DER SEQUENCE, or None."""
    if len(data) < 8 or data[0] != 0x30:
        return None
    first = data[1]
    if first < 0x80:
        return data[2:]
    count = first & 0x7F
    return data[2 + count :] if 1 <= count <= 3 else None


def is_binary_private_key(data: bytes) -> bool:
    if data.startswith((_OPENSSH_MAGIC, _PPK_MAGIC)):
        return True
    body = _der_body(data)
    return body is not None and body.startswith(_DER_VERSION_AFTER_SEQUENCE)


def _decode_base64(blob: str) -> bytes | None:
    compact = re.sub(r"\s+", "", blob)
    if "-" in compact or "_" in compact:
        compact = compact.replace("-", "+").replace("_", "/")
    compact = compact.rstrip("=")
    compact += "=" * (-len(compact) % 4)
    try:
        return base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        return None


def _as_text(data: bytes) -> str | None:
    """Decoded bytes that are text (UTF-8, mostly printable): worth a second look by the detectors."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    printable = sum(c.isprintable() or c in "\n\r\t" for c in text)
    return text if printable >= 0.95 * len(text) else None


def base64_payloads(text: str) -> Iterator[bytes]:
    """Decoded base64 / base64url blobs of `text` (each at most MAX_BLOB_CHARS, all at most MAX_DECODED_CHARS)."""
    budget = MAX_DECODED_CHARS
    for match in _BLOB.finditer(text):
        blob = match.group(0)
        if len(blob) < MIN_BLOB_CHARS or not any(c.isdigit() or c in "+/" for c in blob[:64]):
            continue  # words joined by dashes or underscores are not base64
        blob = blob[: min(MAX_BLOB_CHARS, budget)]
        blob = blob[: len(blob) - len(blob) % 4] if "\n" not in blob else blob
        budget -= len(blob)
        data = _decode_base64(blob)
        if data:
            yield data
        if budget <= MIN_BLOB_CHARS:
            return


def decoded_texts(text: str) -> Iterator[str]:
    """Texts hidden in `text`: URL-decoded, JSON-unescaped and base64-decoded versions (one level each)."""
    head = text[:MAX_DECODED_CHARS]
    if "%" in head and len(_URL_ESCAPE.findall(head, 0, 4000)) >= 3:
        yield unquote(head)
    if "\\" in head and any(e in head for e in _JSON_ESCAPES):
        yield _unescape_json(head)


def _unescape_json(text: str) -> str:
    replaced = text.replace("\\r", "\r").replace("\\n", "\n").replace("\\t", "\t").replace("\\/", "/")
    replaced = replaced.replace('\\"', '"')
    return re.sub(r"\\u00([0-9a-fA-F]{2})", lambda m: chr(int(m.group(1), 16)), replaced)


def may_hold_base64(long_text: str) -> bool:
    """Whether a blob can start in a text whose whitespace-free tokens of 16+ characters are `long_text`: its first
    FIRST_RUN_CHARS characters are base64 ones in a row, inside one token. Numbers, dates and CSV rows have none."""
    return _FIRST_RUN.search(long_text) is not None


def hidden_texts(text: str, base64: bool = True) -> tuple[list[str], bool]:
    """(texts decoded from `text` for the detectors, whether binary private-key material was found). `base64`
    False: the caller knows that no blob can start in the text (may_hold_base64), so none is looked for (a
    full-text regex pass saved)."""
    texts = list(decoded_texts(text))
    binary_key = False
    if base64 and len(text) >= MIN_BLOB_CHARS:
        for data in base64_payloads(text):
            if is_binary_private_key(data):
                binary_key = True
                continue
            decoded = _as_text(data)
            if decoded is not None:
                texts.append(decoded)
    return texts, binary_key
