"""User access tokens: JWTs (HS256, pyjwt) that live 15 minutes and name their signing key.

Signing keys are derived, not stored: the key of period `n` (one period is
`signing_key_period_s`, a day by default) is HKDF-SHA256 of HERALD_SECRET_KEY with the
label "herald access token key n", and its `kid` is `v1.n`. Every API replica derives the same
keys from the same secret, the key rotates by itself each period, and a verifier accepts only
the previous, current and next period's key (a token outlives its key's period by at most its
15 minutes; the next covers replicas whose clocks run a little ahead). Any other `kid`, another
algorithm (`none` included), a bad signature or an expired token is refused. Verifying needs no
database; the session the token names is checked with the membership lookup (api/auth.py).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

import jwt
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from herald.errors import ErrorCode, HeraldError

ALGORITHM = "HS256"
ISSUER = "herald"
_KID_PREFIX = "v1."


@dataclass(frozen=True)
class AccessClaims:
    user_id: uuid.UUID
    session_id: uuid.UUID


def invalid_token(reason: str) -> HeraldError:
    return HeraldError(
        ErrorCode.UNAUTHORIZED,
        f"invalid access token: {reason}",
        headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
    )


class AccessTokens:
    def __init__(self, master_secret: bytes, ttl_s: int, key_period_s: int) -> None:
        self._master = master_secret
        self.ttl_s = ttl_s
        self._period_s = key_period_s
        self._key = lru_cache(maxsize=8)(self._derive)

    def _derive(self, period: int) -> bytes:
        label = f"herald access token key {period}".encode()
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=label).derive(
            self._master
        )

    def _period(self, at: datetime) -> int:
        return int(at.timestamp()) // self._period_s

    def issue(self, user_id: uuid.UUID, session_id: uuid.UUID, now: datetime) -> str:
        period = self._period(now)
        issued = int(now.timestamp())
        claims = {
            "iss": ISSUER,
            "sub": str(user_id),
            "sid": str(session_id),
            "iat": issued,
            "exp": issued + self.ttl_s,
        }
        return jwt.encode(
            claims,
            self._key(period),
            algorithm=ALGORITHM,
            headers={"kid": f"{_KID_PREFIX}{period}"},
        )

    def verify(self, token: str, now: datetime) -> AccessClaims:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise invalid_token("not a JWT") from exc
        kid = header.get("kid")
        if header.get("alg") != ALGORITHM:
            raise invalid_token(f"the algorithm must be {ALGORITHM}")
        current = self._period(now)
        period = _period_of(kid)
        if period is None or not current - 1 <= period <= current + 1:
            raise invalid_token("unknown signing key")
        try:
            # Expiry is checked below against `now` (the injected clock), not the wall clock.
            claims = jwt.decode(
                token,
                self._key(period),
                algorithms=[ALGORITHM],
                issuer=ISSUER,
                options={
                    "require": ["exp", "iat", "sub", "sid"],
                    "verify_exp": False,
                    "verify_iat": False,
                },
            )
            expires = int(claims["exp"])
            claims_out = AccessClaims(uuid.UUID(claims["sub"]), uuid.UUID(claims["sid"]))
        except (jwt.PyJWTError, ValueError, TypeError) as exc:
            raise invalid_token("bad signature or claims") from exc
        if expires <= now.timestamp():
            raise invalid_token("expired; refresh it at POST /v1/auth/refresh")
        return claims_out


def _period_of(kid: object) -> int | None:
    if not isinstance(kid, str) or not kid.startswith(_KID_PREFIX):
        return None
    digits = kid.removeprefix(_KID_PREFIX)
    return int(digits) if digits.isdigit() and len(digits) < 12 else None


def looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2
