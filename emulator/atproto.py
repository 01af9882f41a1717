"""AT Protocol building blocks the Bluesky emulator needs: TIDs, CIDs, HS256 session JWTs,
record keys, datetimes, and the ``bytes`` package's size wording used in PDS errors.

References: atproto.com/specs/record-key (TIDs), the multiformats CID spec (CIDv1, base32),
packages/pds/src/account-manager/helpers/auth.ts (token claims).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from emulator.state import Clock

_TID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"
_RKEY = re.compile(r"\A[A-Za-z0-9._:~-]{1,512}\Z")
# The atproto "datetime" format: RFC 3339 with a mandatory timezone, upper-case T and Z.
_DATETIME = re.compile(
    r"\A\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})\Z",
)
_DID = re.compile(r"\Adid:[a-z]+:[A-Za-z0-9._:%-]{1,2048}\Z")
_NSID = re.compile(r"\A[a-zA-Z]([a-zA-Z0-9-]{0,62})?(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,62})?)+\Z")
_LANGUAGE = re.compile(r"\A[a-zA-Z]{2,3}(-[a-zA-Z0-9]{1,8})*\Z|\Ai-[a-z]+\Z")

# CID codecs
DAG_CBOR = 0x71
RAW = 0x55


class TidClock:
    """Timestamp identifiers: 53 bits of microseconds since the epoch and a 10-bit clock id,
    written in sortable base32 (13 characters). Strictly increasing, like a PDS's, while the
    clock runs forward; when a test turns the emulator's clock back, the identifiers follow it
    (as a PDS's follow its clock, and a client's keys theirs) under the next clock id, so none
    repeats one issued before."""

    def __init__(self, clock: Clock, clock_id: int = 7) -> None:
        self._clock = clock
        self._clock_id = clock_id & 0x3FF
        self._last = 0

    def next(self) -> str:
        micros = int(self._clock.now().timestamp() * 1_000_000)
        if micros < self._last - 1_000_000:
            self._clock_id = (self._clock_id + 1) & 0x3FF
        else:
            micros = max(micros, self._last + 1)
        self._last = micros
        return encode_tid(micros, self._clock_id)


def encode_tid(micros: int, clock_id: int = 0) -> str:
    value = ((micros & ((1 << 53) - 1)) << 10) | (clock_id & 0x3FF)
    chars = []
    for _ in range(13):
        chars.append(_TID_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def cid_for(data: bytes, codec: int) -> str:
    """CIDv1 with a sha2-256 multihash, in base32 ("bafk…" for raw blobs, "bafy…" for records)."""
    digest = hashlib.sha256(data).digest()
    raw = bytes([0x01, codec, 0x12, 0x20]) + digest
    return "b" + base64.b32encode(raw).decode().lower().rstrip("=")


def blob_cid(data: bytes) -> str:
    return cid_for(data, RAW)


def record_cid(record: Any) -> str:
    """A record CID. Real CIDs hash the DAG-CBOR encoding; this hashes canonical JSON, so the
    value is stable and well-formed but would not match a real PDS's for the same record."""
    encoded = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return cid_for(encoded.encode(), DAG_CBOR)


def valid_record_key(rkey: str) -> bool:
    return bool(_RKEY.match(rkey)) and rkey not in (".", "..")


def valid_datetime(value: str) -> bool:
    if not _DATETIME.match(value):
        return False
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def valid_did(value: str) -> bool:
    return bool(_DID.match(value))


def valid_nsid(value: str) -> bool:
    return bool(_NSID.match(value))


def valid_language(value: str) -> bool:
    return bool(_LANGUAGE.match(value))


def valid_at_uri(value: str) -> bool:
    if not value.startswith("at://"):
        return False
    authority = value[5:].split("/", 1)[0]
    return bool(authority)


def split_at_uri(uri: str) -> tuple[str, str, str] | None:
    """at://did/collection/rkey → (did, collection, rkey)."""
    if not uri.startswith("at://"):
        return None
    parts = uri[5:].split("/")
    if len(parts) != 3 or not all(parts):
        return None
    return parts[0], parts[1], parts[2]


def format_bytes(size: int) -> str:
    """The npm ``bytes`` package's format(): binary units, two decimals, zeros trimmed."""
    units = (("PB", 1 << 50), ("TB", 1 << 40), ("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10))
    unit, text = "B", f"{size:.2f}"
    for name, scale in units:
        if abs(size) >= scale:
            unit, text = name, f"{size / scale:.2f}"
            break
    text = re.sub(r"(?:\.0*|(\.[^0]+)0+)$", lambda m: m.group(1) or "", text)
    return text + unit


# -- JWTs -----------------------------------------------------------------------------------------


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign_jwt(key: bytes, header: dict[str, Any], payload: dict[str, Any]) -> str:
    head = _b64url(json.dumps({"alg": "HS256", **header}, separators=(",", ":")).encode())
    body = _b64url(json.dumps(payload, separators=(",", ":")).encode())
    signature = hmac.new(key, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{_b64url(signature)}"


class BadJwt(ValueError):
    pass


def decode_jwt(key: bytes | None, token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(header, payload) of an HS256 JWT; the signature is checked when ``key`` is given.
    Expiry is the caller's business (it runs on the emulator clock)."""
    parts = token.split(".")
    if len(parts) != 3:
        raise BadJwt("not a JWT")
    try:
        header = json.loads(_unb64url(parts[0]))
        payload = json.loads(_unb64url(parts[1]))
        signature = _unb64url(parts[2])
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadJwt(str(exc)) from exc
    if not isinstance(header, dict) or not isinstance(payload, dict):
        raise BadJwt("not a JWT")
    if key is not None:
        expected = hmac.new(key, f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256).digest()
        if header.get("alg") != "HS256" or not hmac.compare_digest(expected, signature):
            raise BadJwt("bad signature")
    return header, payload


def did_web(host: str) -> str:
    """did:web for a host, with a port percent-encoded as the did:web spec requires."""
    return "did:web:" + host.replace(":", "%3A")


def fake_multikey(seed: str) -> str:
    """A stable, well-formed-looking secp256k1 multikey ("zQ3sh…") for DID documents."""
    alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
    key = b"\x02" + hashlib.sha256(seed.encode()).digest()  # a compressed point's shape
    number = int.from_bytes(b"\xe7\x01" + key, "big")
    chars = []
    while number:
        number, rest = divmod(number, 58)
        chars.append(alphabet[rest])
    return "z" + "".join(reversed(chars))
