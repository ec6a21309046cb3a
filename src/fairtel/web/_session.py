"""How long a console session lasts: at most the token's lifetime (8 h from the login), and no longer than the idle
timeout after its last request. The time of the last request is kept in a cookie of its own, signed and tied to the
session's token, so that it cannot be moved to another session nor set later than the server set it; a session
whose cookie is missing counts from its login. The console's login marks its token as a console session's
(``CONSOLE_SESSION``), and the API holds such a token sent as a bearer to the same timeout, by this policy when the
console is served with it (``app.state.console_sessions``); the API's use does not move the last use. Over HTTPS
the console also tells browsers to come back only over HTTPS (``Strict-Transport-Security``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

# the last-use cookie is read by the API too: a console session's token sent as a bearer is held to the same idle
# timeout (``fairtel.api._security.idle_refusal``)
from fairtel.api._security import CONSOLE_SESSION, SEEN_COOKIE, last_seen, seen_value
from fairtel.core.settings import Settings
from fairtel.core.time import utc_now

__all__ = ["CONSOLE_SESSION", "HSTS", "IDLE_TIMEOUT", "SEEN_COOKIE", "SessionPolicy", "last_seen", "seen_value"]

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
