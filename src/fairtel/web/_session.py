"""How long a console session lasts: at most the token's lifetime (8 h from the login), and no longer than the idle
timeout after its last request. The time of the last request is kept in a cookie of its own, signed and tied to the
session's token, so that it cannot be moved to another session nor set later than the server set it; a session
whose cookie is missing counts from its login. Over HTTPS the console also tells browsers to come back only over
HTTPS (``Strict-Transport-Security``)."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from fairtel.core.settings import Settings
from fairtel.core.time import utc_now

SEEN_COOKIE = "fairtel_seen"
IDLE_TIMEOUT = timedelta(minutes=30)
HSTS = "max-age=31536000"  # a year; no includeSubDomains: other hosts of the operator's domain are not ours to decide


@dataclass(frozen=True, slots=True)
class SessionPolicy:
    """``idle``: a session not used for this long ends (its next request goes to the login page, and its token is
    ended); ``behind_tls``: the console is reached over HTTPS through a proxy that does not say so
    (``X-Forwarded-Proto``), so every answer carries ``Strict-Transport-Security``; ``clock``: now."""

    idle: timedelta = IDLE_TIMEOUT
    behind_tls: bool = False
    clock: Callable[[], datetime] = field(default=utc_now)

    @classmethod
    def from_settings(cls, settings: Settings) -> SessionPolicy:
        """``console_idle_minutes`` (``FAIRTEL_CONSOLE_IDLE_MINUTES``, default 30) and ``console_behind_tls``
        (``FAIRTEL_CONSOLE_BEHIND_TLS``) of the settings."""
        return cls(idle=timedelta(minutes=settings.console_idle_minutes), behind_tls=settings.console_behind_tls)


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
