"""Credentials: scrypt password hashes, signed bearer tokens with expiry, API keys kept only as hashes, and the idle
timeout a console session's token is held to wherever it is presented."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from fairtel.api._errors import NotAuthenticatedError
from fairtel.core.time import utc_now
from fairtel.privacy import Role

# scrypt at N=2^14, r=8, p=1 (the OWASP minimum): about 16 MiB and tens of milliseconds per guess.
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1
_SCRYPT_MAXMEM = 64 * 1024 * 1024
API_KEY_PREFIX = "ftk_"
CONSOLE_SESSION = "console"
"""The ``ses`` claim of a token the console's login issued: a console session's, held to the console's idle timeout
wherever it is presented (``idle_refusal``). A token from ``POST /api/v1/auth/token`` has no such claim."""
SEEN_COOKIE = "fairtel_seen"
"""The cookie saying when a console session was last used (``seen_value``)."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hash_password(password: str, *, n: int = _SCRYPT_N, r: int = _SCRYPT_R, p: int = _SCRYPT_P) -> str:
    """``scrypt$N$r$p$salt$hash``: the parameters travel with the hash, so they can be raised later."""
    if not password:
        raise ValueError("a password cannot be empty")
    if "\x00" in password:  # scrypt (OpenSSL) would read the password only up to it
        raise ValueError("a password cannot hold a NUL character")
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=_SCRYPT_MAXMEM, dklen=32)
    return f"scrypt${n}${r}${p}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` is the one ``stored`` was hashed from. One holding a NUL character never is: scrypt
    (OpenSSL) reads a password only up to it, so ``secret\\x00anything`` would pass for ``secret``."""
    if "\x00" in password:
        hashlib.scrypt(b"", salt=b"\x00" * 16, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P, maxmem=_SCRYPT_MAXMEM, dklen=32)  # as long
        return False
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        got = hashlib.scrypt(
            password.encode("utf-8"), salt=_unb64(salt), n=int(n), r=int(r), p=int(p), maxmem=_SCRYPT_MAXMEM, dklen=32
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, _unb64(digest))


# A fixed hash to verify against when the user does not exist: the answer takes as long either way.
DUMMY_HASH = "scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is asking: a user (by password and token) or a system (by API key) acting as that user."""

    username: str
    role: Role
    msisdn: str | None = None  # a subscriber's own line
    via: str = "token"
    key_id: str | None = None  # the API key a system sent (``via == "api_key"``): the audit names it
    # a subscriber login made before its line's current activation (the register's ``activated_at``): the number
    # changed hands (or was closed and activated again) since, and the login opens nothing (``line_changed_hands``)
    before_holding: bool = False
    # a subscriber's: when their holding of the line began (its ``activated_at``, read with the login), so that what
    # is theirs is told apart without another read (``Access.holding_from``)
    holding_from: datetime | None = None


@dataclass(frozen=True, slots=True)
class Claims:
    username: str
    role: Role
    msisdn: str | None
    issued_at: datetime
    expires_at: datetime
    token_id: str  # what logging out revokes (``jti``)
    session: str | None = None  # ``CONSOLE_SESSION`` for a console session's token (``ses``); None: an API client's


class TokenSigner:
    """Bearer tokens: ``base64url(JSON claims).base64url(HMAC-SHA256)`` under a key derived from the secret.

    Checked without a database: the signature and the expiry are in the token. Each token has a random id
    (``jti``), so that logging out can end that one token (``Services.revoke_token``) and no other, even one
    issued to the same user in the same second."""

    def __init__(self, secret: str, *, ttl: timedelta = timedelta(hours=8)) -> None:
        self._key = hmac.new(secret.encode("utf-8"), b"fairtel/api/token/v1", hashlib.sha256).digest()
        self.ttl = ttl

    def _sign(self, payload: str) -> str:
        return _b64(hmac.new(self._key, payload.encode("ascii"), hashlib.sha256).digest())

    def issue(
        self, principal: Principal, *, now: datetime | None = None, ttl: timedelta | None = None, session: str | None = None
    ) -> str:
        """A token for ``principal``; ``session``: the kind of session it is issued for (``CONSOLE_SESSION``), kept
        in it as its ``ses`` claim (an API client's has none)."""
        at = now or utc_now()
        claims: dict[str, object] = {
            "sub": principal.username,
            "role": principal.role.value,
            "msisdn": principal.msisdn,
            "iat": int(at.timestamp()),
            "exp": int((at + (ttl or self.ttl)).timestamp()),
            "jti": secrets.token_urlsafe(16),
        }
        if session is not None:
            claims["ses"] = session
        payload = _b64(json.dumps(claims, separators=(",", ":"), sort_keys=True).encode("utf-8"))
        return f"{payload}.{self._sign(payload)}"

    def verify(self, token: str, *, now: datetime | None = None) -> Claims:
        payload, _, signature = token.partition(".")
        # a token is ASCII (base64url): anything else (``Bearer é.é``) is not one of ours, and is not signed
        if not payload or not signature or not token.isascii() or not hmac.compare_digest(self._sign(payload), signature):
            raise NotAuthenticatedError("the token is not valid")
        try:
            claims = json.loads(_unb64(payload))
            role = Role(claims["role"])
            issued = datetime.fromtimestamp(int(claims["iat"]), tz=utc_now().tzinfo)
            expires = datetime.fromtimestamp(int(claims["exp"]), tz=utc_now().tzinfo)
            username = str(claims["sub"])
            session = claims.get("ses")
            if session is not None and not isinstance(session, str):
                raise TypeError("ses")
        except (ValueError, KeyError, TypeError) as exc:
            raise NotAuthenticatedError("the token is not valid") from exc
        at = now or utc_now()
        # a token lives no longer than tokens are issued for, and is not issued in the future: one signed with a
        # leaked key, or forged, cannot outlive a login
        if expires <= issued or expires - issued > self.ttl or issued > at + timedelta(seconds=60):
            raise NotAuthenticatedError("the token is not valid")
        if at >= expires:
            raise NotAuthenticatedError("the token has expired; log in again")
        msisdn = claims.get("msisdn")
        # a token issued before tokens had ids is named by its signature: it can be revoked all the same
        token_id = str(claims.get("jti") or signature)
        return Claims(username, role, None if msisdn is None else str(msisdn), issued, expires, token_id, session)

    def derive(self, purpose: str, value: str) -> str:
        """A keyed tag of ``value`` for another purpose (e.g. the console's form tokens)."""
        return _b64(hmac.new(self._key, f"{purpose}:{value}".encode(), hashlib.sha256).digest())[:32]


def seen_value(derive: Callable[[str, str], str], token: str, at: datetime) -> str:
    """The cookie saying the session ``token`` was last used at ``at`` (whole seconds), signed for that token."""
    stamp = str(int(at.timestamp()))
    return f"{stamp}.{derive('console-seen', f'{stamp}|{token}')}"


def last_seen(derive: Callable[[str, str], str], token: str, value: str | None) -> datetime | None:
    """When the session ``token`` was last used, as its cookie ``value`` says; None when there is none, or it is not
    one the server signed for this token."""
    stamp, _, mac = (value or "").partition(".")
    if not stamp.isdigit() or not mac:
        return None
    if not hmac.compare_digest(mac.encode("utf-8"), derive("console-seen", f"{stamp}|{token}").encode("utf-8")):
        return None
    return datetime.fromtimestamp(int(stamp), tz=UTC)


def idle_for(claims: Claims, seen: datetime | None, *, now: datetime) -> timedelta:
    """How long the session of a token with ``claims`` has gone unused at ``now``: since its last use (``seen``,
    what its signed ``SEEN_COOKIE`` says) or, without one, since its login."""
    return now - (claims.issued_at if seen is None else max(claims.issued_at, seen))


def idle_refusal(claims: Claims, seen: datetime | None, *, idle: timedelta, now: datetime) -> NotAuthenticatedError | None:
    """The refusal of a console session's token (``CONSOLE_SESSION``) sent to the API when its session has gone
    unused for ``idle`` (``idle_for``), as an expired token is refused; None for one still in use, and for every
    token an API client was issued (``POST /api/v1/auth/token``), which only its own lifetime ends. The API's use
    of the token is not use of the session: it does not move its last use."""
    if claims.session != CONSOLE_SESSION or idle_for(claims, seen, now=now) < idle:
        return None
    minutes = int(idle.total_seconds() // 60)
    return NotAuthenticatedError(
        f"the token has expired: its console session was not used for {minutes} minutes; log in again",
        details={"idle_minutes": minutes},
    )


def new_api_key() -> str:
    """256 random bits: a key no one can guess, so a fast hash (SHA-256) is enough to store it."""
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def api_key_hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()
