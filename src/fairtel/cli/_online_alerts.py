"""What ``fairtel watch --rate`` tells subscribers as their roaming usage is rated, commit by commit: the bill-shock
alerts at 80 % and 100 % of the roaming cap they set (and of the presets given), and the welcome notice with a
country's roaming prices on the first roaming record of a trip there.

Only the subscribers a commit's roaming lines name are looked at: their cap (one indexed look-up), and, for those
with a cap (all of them under a preset), their roaming lines of the commit's months in the lake. An alert is the
finding ``fairtel assure`` raises for the same crossing, under the same finding id, and its SMS has the same message
id: the outbox takes it once, whichever of the two sends it first. Welcome notices are recorded in
``<home>/notices/welcome.jsonl`` (msisdn, country, sent_at, message_id), where the roaming-without-welcome check
reads them.

What a commit calls for is sent after the commit, at least once: each commit told is noted in
``<home>/notices/told.log`` (its sequence number in the rating log) once its messages are in the outbox and its
welcome notices recorded. A watch stopped before that (killed after the commit, or the sending failed) leaves the
commit untold, and the next ``watch --rate`` tells it at its start, before rating anything: its lines are left out
of "when each subscriber last roamed where" (so its trip starts are still new), and its messages are made again
under the same ids (a welcome notice's: the subscriber, country and trip start), so the outbox takes each once and
a notice already sent is recorded, not sent again. A home whose watch ran before this note was kept counts every
commit logged by then as told.

A cap set in a currency no exchange rate converts to its roaming charges' is not watched over them, as ``fairtel
assure`` leaves it (the other subscribers' alerts are sent): a note names the line (masked) and the ``--cap-rate``
that would convert it, once per watch.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from contextlib import suppress
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
from fairtel.core.commits import fsync_dir
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
        # JSON lines, not named *.jsonl: ``fairtel assure`` reads the notices directory's *.jsonl as notices
        self.told_path = app.settings.home / "notices" / "told.log"
        self._recorded = _recorded(self.notices)  # the welcome notices' message ids recorded so far
        self._untold = self._untold_commits()  # the rating log's commits a stopped watch did not tell
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
        # every notice of the commit in the outbox is recorded, also one sent by a run stopped before recording it
        self._record(welcome, {m.message_id for m in fresh})
        return fresh

    # ---- commits told ---------------------------------------------------------------------------------------
    def _log(self) -> list[dict[str, Any]]:
        from fairtel.engines._online import LOG_DIR, LOG_FILE, _Log

        return _Log.read(self.app.settings.lake_dir / LOG_DIR / LOG_FILE).entries

    def _untold_commits(self) -> list[dict[str, Any]]:
        """The rating log's entries whose messages were not all sent (a watch stopped after the commit), in order.
        The first watch of a home keeping ``told.log`` counts every commit logged until then as told."""
        entries = self._log()
        if not self.told_path.exists():
            self._append(self.told_path, [{"through": max((int(e["seq"]) for e in entries), default=0)}])
            return []
        through, told = 0, set()
        for row in _jsonl(self.told_path):
            if "through" in row:
                through = max(through, int(row["through"]))
            elif "seq" in row:
                told.add(int(row["seq"]))
        return [e for e in entries if int(e["seq"]) > through and int(e["seq"]) not in told]

    def told(self, res: OnlineResult) -> None:
        """The commit ``res`` told: its messages are in the outbox and its welcome notices recorded."""
        self._append(self.told_path, [{"seq": res.seq}])

    def catch_up(self, catalog: Catalog) -> list[OutboxMessage]:
        """Tell the commits a stopped watch left untold (``_untold_commits``), in order, each noted as told
        once done; returns the messages new in the outbox. Before any commit of this watch."""
        from dataclasses import replace as with_lines

        from fairtel.engines import OnlineResult
        from fairtel.engines._online import ROAMING_COLUMNS, _roaming_lines

        def read(part: Path) -> pl.DataFrame:  # the columns a commit's roaming lines keep
            names = pl.read_parquet_schema(part)
            return pl.read_parquet(part, columns=[c for c in ROAMING_COLUMNS if c in names])

        sent: list[OutboxMessage] = []
        for entry in self._untold:
            res = OnlineResult.of(entry)
            parts = [f for f in self._commit_parts(entry) if f.exists()]  # a batch run may have replaced them
            rated = pl.concat([read(f) for f in parts], how="diagonal_relaxed") if parts else None
            if rated is not None and rated.height:
                res = with_lines(res, roaming=_roaming_lines(rated))
            sent += self.after_commit(res, catalog)
            self.told(res)
        self._untold = []
        return sent

    def _commit_parts(self, entry: dict[str, Any]) -> list[Path]:
        """The rated parts a log entry committed (``rated/period=P/o-<seq>-<file>.parquet``)."""
        from fairtel.engines._base import RATED

        name = _part_name(int(entry["seq"]), str(entry["file"]))
        rated = self.app.settings.lake_dir / RATED
        return [rated / f"period={p}" / f"{name}.parquet" for p in entry.get("periods", [])]

    @staticmethod
    def _append(path: Path, rows: list[dict[str, Any]]) -> None:
        """``rows`` appended to ``path`` in one write, synced (after a line torn by a crash, on a line of its own)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        created = not path.exists()
        text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
        with path.open("a+b") as fh:
            fh.seek(0, 2)
            if fh.tell():
                fh.seek(-1, 2)
                if fh.read(1) != b"\n":
                    text = "\n" + text
            fh.write(text.encode("utf-8"))
            fh.flush()
            os.fsync(fh.fileno())
        if created:
            fsync_dir(path.parent)

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

        # the lines of commits not told (their trip starts are told at the start, ``catch_up``) and of parts no
        # commit owns (a crash in the middle of one: removed, and rated again) are not an earlier visit
        committed = {_part_name(int(e["seq"]), str(e["file"])) for e in self._log()}
        untold = {_part_name(int(e["seq"]), str(e["file"])) for e in self._untold}
        files = [f for f in Lake(self.app.settings.lake_dir).files("rated")
                 if not (Path(f).name.startswith(_ONLINE) and (Path(f).stem not in committed or Path(f).stem in untold))]
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

    def _record(self, welcome: list[OutboxMessage], fresh: set[str]) -> None:
        """The welcome notices sent (``fresh``: the ids sent now; the others were sent before), where the
        roaming-without-welcome check reads them, each once: one sent by a run stopped before recording it is
        recorded when its commit is told again, at the time the outbox took it."""
        todo = [m for m in welcome if m.message_id not in self._recorded]
        if not todo:
            return
        earlier = self._sent_at({m.message_id for m in todo} - fresh)
        self._append(self.notices, [{"msisdn": m.msisdn, "country": self._countries[m.message_id],
                                     "sent_at": earlier.get(m.message_id, _utc(m.created_at)),
                                     "message_id": m.message_id} for m in todo])
        self._recorded.update(m.message_id for m in todo)

    def _sent_at(self, ids: set[str]) -> dict[str, str]:
        """When the outbox took the messages ``ids`` (sent by an earlier run)."""
        out: dict[str, str] = {}
        if not ids:
            return out
        for row in _jsonl(self.outbox.path):
            if row.get("message_id") in ids and row.get("created_at"):
                with suppress(ValueError, TypeError):
                    out[row["message_id"]] = _utc(datetime.fromisoformat(str(row["created_at"])))
        return out


_ONLINE = "o-"  # the names of online rating's parts: ``o-<seq, 8 digits>-<file>``


def _part_name(seq: int, file: str) -> str:
    return f"{_ONLINE}{seq:08d}-{file}"


def _jsonl(path: Path) -> list[dict[str, Any]]:
    """The whole JSON objects of a JSON Lines file (none when it is missing; a torn or foreign line skipped)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return []
    out = []
    for line in text.splitlines():
        with suppress(ValueError):
            row = json.loads(line)
            if isinstance(row, dict):
                out.append(row)
    return out


def _recorded(notices: Path) -> set[str]:
    """The message ids of the welcome notices recorded in ``notices``."""
    return {str(r["message_id"]) for r in _jsonl(notices) if r.get("message_id")}

