"""What ``fairtel watch --rate`` tells subscribers as their roaming usage is rated, commit by commit: the bill-shock
alerts at 80 % and 100 % of the roaming cap they set (and of the presets given), and the welcome notice with a
country's roaming prices on the first roaming record of a trip there.

Only the subscribers a commit's roaming lines name are looked at: their cap (one indexed look-up), and, for those
with a cap (all of them under a preset), their roaming lines of the commit's months in the lake. An alert is the
finding ``fairtel assure`` raises for the same crossing, under the same finding id, and its SMS has the same message
id: the outbox takes it once, whichever of the two sends it first. Welcome notices are recorded in
``<home>/notices/welcome.jsonl`` (msisdn, country, sent_at), where the roaming-without-welcome check reads them.

A cap set in a currency no exchange rate converts to its roaming charges' is not watched over them, as ``fairtel
assure`` leaves it (the other subscribers' alerts are sent): a note names the line (masked) and the ``--cap-rate``
that would convert it, once per watch.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from fairtel.assurance import FindingKind
from fairtel.assurance._billshock import (
    BillShockPolicy,
    OwnCapPolicy,
    UnwatchedCap,
    bill_shock_findings,
    subscriber_cap_findings,
)
from fairtel.assurance._notify import DEFAULT_SENDER, FileOutbox, OutboxMessage, bill_shock_messages
from fairtel.assurance._roaming import TRIP_GAP, WelcomePrices, welcome_prices, welcome_text
from fairtel.core.ids import stable_id

if TYPE_CHECKING:
    from fairtel.bootstrap import App
    from fairtel.catalog import Catalog
    from fairtel.engines import OnlineResult

WELCOME = "roaming_welcome"
"""The outbox ``kind`` of a welcome notice."""

_NEEDED = ("record_id", "msisdn", "started_at", "amount_minor", "currency", "kind", "roaming_country")


def _utc(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


def _stderr(text: str) -> None:
    """One line on stderr, as written (no markup)."""
    from fairtel.cli._ui import err_console

    err_console.print(text, markup=False, highlight=False, soft_wrap=True)


def _sender(catalog: Catalog) -> dict[str, str]:
    """The operator's name in each language, as ``fairtel assure`` signs its SMS in a home."""
    name = catalog.operator.name
    return {"zh": name.zh or DEFAULT_SENDER, "en": name.en or DEFAULT_SENDER}


class OnlineAlerts:
    """Cap alerts and welcome notices for the commits of one watch. ``presets``: the bill-shock presets watched
    besides the caps subscribers set (``own_caps``: how those are watched); ``trip_gap``: a trip starts at roaming in a country after none there for this
    long (None: no welcome notices). A cap ``own_caps`` has no rate for is left unwatched over charges in another
    currency (``OwnCapPolicy.skip_unconverted``): ``say`` is told so (default: stderr), once per line and currencies."""

    def __init__(self, app: App, *, presets: Sequence[BillShockPolicy] = (), own_caps: OwnCapPolicy = OwnCapPolicy(),
                 trip_gap: timedelta | None = TRIP_GAP, say: Callable[[str], None] | None = None) -> None:
        from fairtel.cli._assure import finding_ids

        self.app = app
        self.presets = tuple(presets)
        # one subscriber's cap no rate converts must not keep every other subscriber's alerts of a commit unsent
        self.own_caps = replace(own_caps, skip_unconverted=True)
        self.say = say or _stderr
        self.unwatched: list[UnwatchedCap] = []  # the caps left unwatched so far, each once
        self.trip_gap = trip_gap
        self.tz = app.settings.timezone
        self.ids = finding_ids(app)  # once: the ids held unkeyed are those from before keyed ids, a fixed set
        self.outbox = FileOutbox(app.settings.outbox_dir)
        self.notices = app.settings.home / "notices" / "welcome.jsonl"
        self._last: dict[tuple[str, str], datetime] | None = None
        self._prices: dict[tuple[str, str], WelcomePrices | None] = {}
        self._catalog: Catalog | None = None
        self._countries: dict[str, str] = {}  # a welcome message's id → its country
        if trip_gap is not None:
            self.load()

    # ---- the commit -----------------------------------------------------------------------------------------
    def after_commit(self, res: OnlineResult, catalog: Catalog) -> list[OutboxMessage]:
        """Send what the commit ``res`` calls for; returns the messages new in the outbox (welcome notices first,
        then each subscriber's alerts in the order of the charges that crossed, 80 % before 100 %)."""
        lines = res.roaming
        if lines is None or lines.height == 0:
            return []
        from fairtel.billing import charged

        lines = lines.filter(charged(lines.columns))
        if lines.height == 0:
            return []
        now = datetime.now(UTC)
        welcome = self._welcome(lines, catalog, now) if self.trip_gap is not None else []
        alerts = self._alerts(lines, res.periods, now, catalog)
        messages = welcome + alerts
        if not messages:
            return []
        known = self.outbox._known()
        fresh = [m for m in messages if m.message_id not in known]
        self.outbox.send(fresh)
        self._record(fresh, welcome)
        return fresh

    def _languages(self, msisdns: list[str]) -> dict[str, str]:
        from fairtel.cli._assure import _register_languages

        return _register_languages(self.app, None, msisdns)

    # ---- cap alerts -----------------------------------------------------------------------------------------
    def _alerts(self, lines: pl.DataFrame, periods: Sequence[str], now: datetime,
                catalog: Catalog) -> list[OutboxMessage]:
        from fairtel.store._roaming_caps import caps_in_force

        touched = sorted(set(lines["msisdn"].drop_nulls().to_list()))
        with self.app.db.connect() as conn:
            caps = caps_in_force(conn, at=now, msisdns=touched)
        who = sorted(set(touched) if self.presets else set(caps))
        if not who:
            return []
        rated = self._month_lines(who, periods)
        if rated is None or rated.height == 0:
            return []
        findings = []
        for preset in self.presets:
            findings += bill_shock_findings(rated, preset, detected_at=now, tz=self.tz, ids=self.ids)
        if caps:
            unwatched: list[UnwatchedCap] = []
            findings += subscriber_cap_findings(rated, caps, policy=self.own_caps, detected_at=now,
                                                presets=self.presets, tz=self.tz, ids=self.ids, unwatched=unwatched)
            self._note(unwatched)
        # the crossings this commit's charges made (earlier ones were told at their own commit, or are left to
        # ``fairtel assure``)
        mine = set(lines["record_id"].to_list())
        crossed = [f for f in findings if f.kind is FindingKind.BILL_SHOCK and f.record_ids
                   and f.record_ids[0] in mine]
        if not crossed:
            return []
        crossed.sort(key=lambda f: (f.msisdn or "", str(f.evidence.get("started_at")), f.record_ids,
                                    int(f.evidence.get("threshold_pct", 0))))
        languages = self._languages(sorted({f.msisdn for f in crossed if f.msisdn}))
        return bill_shock_messages(crossed, languages=languages, sender=_sender(catalog),
                                   now=now, tz=self.tz)

    def _note(self, unwatched: Sequence[UnwatchedCap]) -> None:
        """Say which caps are left unwatched, each (line, cap currency, charges' currency) once per watch."""
        from fairtel.cli._assure import unwatched_cap_note

        to = {p.cap.currency for p in self.presets} or {self.app.settings.currency}
        for u in unwatched:
            if u in self.unwatched:
                continue
            self.unwatched.append(u)
            self.say(unwatched_cap_note(u, to, option="--cap-rate"))  # the watch's --rate rates; --cap-rate converts

    def _month_lines(self, who: list[str], periods: Sequence[str]) -> pl.DataFrame | None:
        """The charged roaming lines of ``who`` in ``periods``, as the lake holds them (this commit's included)."""
        from fairtel.billing import charged
        from fairtel.store import Lake

        files = Lake(self.app.settings.lake_dir).files("rated", periods=list(periods))
        if not files:
            return None
        lf = pl.scan_parquet(files)
        names = lf.collect_schema().names()
        if not set(_NEEDED) <= set(names):
            return None
        country = pl.col("roaming_country")
        return (lf.filter(pl.col("msisdn").is_in(who) & country.is_not_null() & (country != "") & charged(names))
                .select(_NEEDED).collect())

    # ---- welcome notices ------------------------------------------------------------------------------------
    def load(self) -> None:
        """Read when each subscriber last roamed in each country from the lake (once, before the watch's first
        commit, so that a commit's own lines are not taken for an earlier visit; the commits then carry it on)."""
        from fairtel.store import Lake

        files = Lake(self.app.settings.lake_dir).files("rated")
        last: dict[tuple[str, str], datetime] = {}
        if files:
            lf = pl.scan_parquet(files)
            if {"msisdn", "roaming_country", "started_at"} <= set(lf.collect_schema().names()):
                country = pl.col("roaming_country")
                rows = (lf.filter(country.is_not_null() & (country != ""))
                        .group_by("msisdn", country.str.to_uppercase())
                        .agg(pl.col("started_at").max()).collect())
                for m, c, at in rows.iter_rows():
                    last[(m, c)] = at
        self._last = last

    def _welcome(self, lines: pl.DataFrame, catalog: Catalog, now: datetime) -> list[OutboxMessage]:
        assert self.trip_gap is not None
        if catalog is not self._catalog:  # another catalog version: its prices
            self._prices, self._catalog = {}, catalog
        last = self._last if self._last is not None else {}
        self._last = last
        frame = (lines.select("record_id", "msisdn", pl.col("roaming_country").str.to_uppercase(), "started_at",
                              *(["plan_id"] if "plan_id" in lines.columns else []))
                 .sort("msisdn", "roaming_country", "started_at", "record_id"))
        starts: list[dict[str, Any]] = []
        for row in frame.iter_rows(named=True):
            key = (row["msisdn"], row["roaming_country"])
            at = row["started_at"]
            before = last.get(key)
            if before is None or at - before > self.trip_gap:
                starts.append(row)
            if before is None or at > before:
                last[key] = at
        if not starts:
            return []
        languages = self._languages(sorted({r["msisdn"] for r in starts}))
        out: list[OutboxMessage] = []
        for row in sorted(starts, key=lambda r: (r["started_at"], r["msisdn"])):
            plan = row.get("plan_id")
            price_key = (str(plan), row["roaming_country"])
            if price_key not in self._prices:
                self._prices[price_key] = welcome_prices(catalog, str(plan), row["roaming_country"]) if plan else None
            prices = self._prices[price_key]
            if prices is None:
                continue
            lang = languages.get(row["msisdn"], "zh")
            lang = lang if lang in ("zh", "en") else "zh"
            name = _sender(catalog)[lang]
            message_id = stable_id("msg", WELCOME, row["msisdn"], row["roaming_country"], _utc(row["started_at"]),
                                   key=self.ids.key)
            self._countries[message_id] = row["roaming_country"]
            out.append(OutboxMessage(message_id, row["msisdn"], lang, WELCOME,
                                     welcome_text(prices, language=lang, sender=name), now, None))
        return out

    def _record(self, fresh: list[OutboxMessage], welcome: list[OutboxMessage]) -> None:
        """The welcome notices sent, where the roaming-without-welcome check reads them."""
        ids = {m.message_id for m in welcome}
        sent = [m for m in fresh if m.message_id in ids]
        if not sent:
            return
        self.notices.parent.mkdir(parents=True, exist_ok=True)
        with Path(self.notices).open("a", encoding="utf-8") as fh:
            for m in sent:
                fh.write(json.dumps({"msisdn": m.msisdn, "country": self._countries[m.message_id],
                                     "sent_at": _utc(m.created_at), "message_id": m.message_id},
                                    ensure_ascii=False) + "\n")

