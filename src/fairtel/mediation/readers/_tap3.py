"""GSMA TAP 3.12 transfer batches (TD.57): the calls our subscribers made abroad, as the visited network
(the sender) bills them to us.

Each call event is decoded on its own with pycrate's TAP_0312 module, so a damaged event costs only itself
and a file cut short still yields every complete event before the cut; the cut itself is one ``truncated``
reject, wherever it falls (in a call event, between two, in the batch's header or in its audit control info).
A complete batch must agree with its audit control info: the number of call events (``callEventDetailsCount``)
and their total charge (``totalCharge``: charges of type 00 and CAMEL invocation fees, refunds aside, checked
when every event could be decoded). A batch that does not, or has no audit control info, fails as a whole
(``audit_mismatch``): nothing of it is read. Mobile originated and terminated calls become ``voice`` records
(``sms`` for the SMS teleservices 21/22), GPRS calls ``data`` records; other event kinds are rejected as
``unsupported_record``.

A batch marked as test data (``fileTypeIndicator`` T) fails as a whole (``tap_test_data``): it holds no chargeable
usage. A batch read whole names itself (``batch_id``: sender, recipient, file sequence number), and ``claim`` records
it in the transaction that registers its file: a number read before with other content fails the file
(``tap_batch_repeated``, ``mediation._tap_batches``), as TD.57 makes a repeated sequence number fatal.

- ``record_id``: ``<sender>-<file sequence number>-<index of the event in the file, from 1>``.
- ``roaming_country``: the sender's TADIG code begins with the ISO 3166 alpha-3 code of its country, which
  becomes alpha-2 (``CHNCT`` -> ``CN``); a code that is not a country (test codes such as ``ZZZAA``) becomes
  ``ZZ``, the user-assigned "unknown country" code (the sender itself is in ``vpmn``). Rating prices ``ZZ``
  in the catalog's fallback roaming zone (validation accepts it, as the one code outside ISO's assigned ones).
- ``tap_charge``/``tap_currency`` (not the canonical ``amount``, a VAS record's price): the visited network's
  wholesale charge, which is not what the subscriber pays (the home operator rates the call under its own
  tariff). It is the sum, over the event's charge informations, of each one's total charge (its one charge
  detail of charge type ``00``), scaled by the batch's ``tapDecimalPlaces``, as a decimal string in the TAP
  currency (``tapCurrency``, or ``XDR`` -- SDR -- when the batch names none, as TD.57 says). Taxes and discounts
  are not included. A call event without it (no basic service used or GPRS service used, no charge information,
  no charge detail list, or no charge detail of type ``00`` with its charge: all mandatory in TD.57) is rejected
  as ``missing_field``, naming the call event, its byte and where in it the charge is missing: its charge is
  unknown, never taken as zero. A charge detail list with more than one charge detail of type ``00`` (TD.57
  allows one) is rejected as ``bad_value``, naming the event, its byte and the list: which is the total is
  unknown, and summing them would count the charge twice. Either still counts in the audit control check, as
  TD.57 counts every event.
- ``tap_exchange_rate``/``tap_local_currency``/``tap_local_charge``: the rate the batch's currency conversion gives
  for the ``exchangeRateCode`` the event's charge informations name (``exchangeRate`` scaled by its own
  ``numberOfDecimalPlaces``: local currency units to one unit of TAP currency; empty when they name none, or several
  different ones), the batch's ``localCurrency``, and the charge in it: each charge information's total times the
  rate of its own code, summed exactly and rounded once, half up, to ``tapDecimalPlaces``. What relating the charge
  to the visited network's own tariff needs. TD.57 requires a code where a charge above zero is present, and rejects
  a call event naming a code its batch's table does not define: such an event is rejected (``missing_field`` /
  ``bad_value``), naming the file, the record, the field and the codes the table does define; so is one naming an
  entry with no usable rate (no ``numberOfDecimalPlaces``, whose rate's scale is then unknown, or no
  ``exchangeRate``, or a code defined twice with different rates).
- ``apn`` (GPRS): the access point name's network identifier (``accessPointNameNI``), as the 3GPP reader gives it.
- Ingest keeps ``imsi``, ``vpmn``, ``apn`` and the wholesale charge in the lake's optional columns of
  ``CLEAN_USAGE_SCHEMA``: ``tap_charge`` as ``wholesale_charge_units`` at ``wholesale_charge_decimals`` (the
  batch's ``tapDecimalPlaces``, exactly, never rounded), ``tap_currency`` as ``wholesale_charge_currency``,
  for reconciling the batch with the visited network's invoice; never in ``amount_minor``/``currency``, a VAS
  record's price (docs/formats.md). ``tap_exchange_rate``, ``tap_local_currency`` and ``tap_local_charge`` are for
  a caller of this reader: they do not reach the lake.
- ``started_at``: the event's local time with the offset its ``utcTimeOffsetCode`` names in the batch's
  network information.
- GPRS partials (``partialTypeIndicator`` F/I/L) carry ``session_id`` ``<sender>:<chargingId>`` and
  ``final`` (true for L); TAP numbers no parts, so ``seq`` stays empty.
"""

from __future__ import annotations

import importlib.util
import mmap
import os
from collections.abc import Iterator, Mapping
from decimal import ROUND_HALF_UP, Decimal, localcontext
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from fairtel.mediation.readers._base import RawBatch, Reject
from fairtel.mediation.readers._errors import AuditMismatchError, UnreadableFileError
from fairtel.mediation.readers._rows import NATIVE_TYPES, BatchBuilder, make_reject
from fairtel.mediation.readers._tlv import APPLICATION, Buffer, TlvError, bcd, lenient, read_head

if TYPE_CHECKING:
    from fairtel.mediation._tap_batches import BatchId

UNKNOWN_COUNTRY = "ZZ"  # ISO 3166 user-assigned code, by convention "unknown"

OUTPUT = ("record_id", "msisdn", "kind", "direction", "started_at", "duration_s", "bytes_up", "bytes_down",
          "peer", "tap_charge", "tap_currency", "roaming_country", "cell_id", "imei", "session_id", "seq", "final",
          "imsi", "vpmn", "apn", "tap_exchange_rate", "tap_local_currency", "tap_local_charge")

TRANSFER_BATCH, NOTIFICATION = 1, 2
CALL_EVENT_DETAILS, BATCH_CONTROL_INFO, ACCOUNTING_INFO, NETWORK_INFO = 3, 4, 5, 6
MESSAGE_DESCRIPTION_INFO, AUDIT_CONTROL_INFO = 8, 15
PARTS = {BATCH_CONTROL_INFO: "batch control info", ACCOUNTING_INFO: "accounting info", NETWORK_INFO: "network info",
         MESSAGE_DESCRIPTION_INFO: "message description info", CALL_EVENT_DETAILS: "call event list",
         AUDIT_CONTROL_INFO: "audit control info"}
SMS_TELESERVICES = frozenset({b"20", b"21", b"22"})
SDR = "XDR"


@cache
def _tap() -> Any:
    from pycrate_asn1dir import TAP3

    return TAP3.TAP_0312


@cache
def _alpha3_to_alpha2() -> dict[str, str]:
    from pycrate_mobile.MCC_MNC import CC_table

    return {row[1]: row[0] for row in CC_table}


def tadig_country(tadig: str) -> str:
    """ISO 3166 alpha-2 country of a TADIG code, or the code itself when its prefix is not a country."""
    return _alpha3_to_alpha2().get(tadig[:3].upper(), UNKNOWN_COUNTRY)


def _str(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("ascii", "replace")
    return "" if value is None else str(value)


class Batch:
    """What every event of a transfer batch needs from its header parts."""

    def __init__(self) -> None:
        self.sender = ""
        self.recipient = ""
        self.sequence = ""
        self.file_type = ""  # fileTypeIndicator: absent for commercial data, "T" for test data
        self.decimals = 0
        self.currency = SDR
        self.local_currency = ""
        # exchangeRateCode -> (exchangeRate, its numberOfDecimalPlaces): local currency units to one unit of TAP currency
        self.rates: dict[int, tuple[int, int]] = {}
        self.unusable: dict[int, str] = {}  # codes the table names but gives no usable rate for, and why
        self.offsets: dict[int, str] = {}
        self.problems: list[str] = []

    def take(self, tag: int, data: bytes) -> None:
        tap = _tap()
        try:
            if tag == BATCH_CONTROL_INFO:
                tap.BatchControlInfo.from_ber(data)
                info = tap.BatchControlInfo.get_val()
                self.sender = _str(info.get("sender"))
                self.recipient = _str(info.get("recipient"))
                self.sequence = _str(info.get("fileSequenceNumber"))
                self.file_type = _str(info.get("fileTypeIndicator"))
            elif tag == ACCOUNTING_INFO:
                tap.AccountingInfo.from_ber(data)
                info = tap.AccountingInfo.get_val()
                self.decimals = int(info.get("tapDecimalPlaces", 0))
                self.currency = _str(info.get("tapCurrency")) or SDR
                self.local_currency = _str(info.get("localCurrency"))
                for item in info.get("currencyConversionInfo", []):
                    self._rate(item)
            elif tag == NETWORK_INFO:
                tap.NetworkInfo.from_ber(data)
                info = tap.NetworkInfo.get_val()
                for item in info.get("utcTimeOffsetInfo", []):
                    self.offsets[int(item["utcTimeOffsetCode"])] = _str(item["utcTimeOffset"])
        except Exception as exc:  # pycrate raises several kinds on damaged input
            self.problems.append(f"batch header part {tag} undecodable: {type(exc).__name__}: {exc}")

    def _rate(self, item: Mapping[str, Any]) -> None:
        """One entry of the currency conversion table. TD.57 makes its three items mandatory: an entry without its
        number of decimal places leaves the rate's scale unknown (``100000`` is 1.00000 at 5 places, 100000 at none),
        so its code gives no rate, nor does a code defined twice with different rates."""
        if "exchangeRateCode" not in item:  # no charge can name it
            return
        code = int(item["exchangeRateCode"])
        missing = [k for k in ("exchangeRate", "numberOfDecimalPlaces") if k not in item]
        if missing:
            self.unusable[code] = f"its entry has no {' and no '.join(missing)}"
            return
        rate = (int(item["exchangeRate"]), int(item["numberOfDecimalPlaces"]))
        old = self.rates.get(code)
        if old is not None and _scaled(*old) != _scaled(*rate):
            self.unusable[code] = f"it is defined twice, as {_scaled(*old)} and {_scaled(*rate)}"
        self.rates[code] = rate

    def timestamp(self, stamp: Mapping[str, Any] | None) -> str | None:
        """``{'localTimeStamp': b'20240115100000', 'utcTimeOffsetCode': 1}`` -> RFC 3339 with offset."""
        if not stamp:
            return None
        local = _str(stamp.get("localTimeStamp"))
        if len(local) != 14 or not local.isdigit():
            return local or None
        text = f"{local[0:4]}-{local[4:6]}-{local[6:8]}T{local[8:10]}:{local[10:12]}:{local[12:14]}"
        offset = self.offsets.get(int(stamp.get("utcTimeOffsetCode", -1)))
        if offset is None or len(offset) != 5:
            return text  # no offset: validation rejects it as a bad timestamp
        return f"{text}{offset[:3]}:{offset[3:]}"

    def charge(self, charge_lists: list[tuple[str, Any]]) -> tuple[str, str | None, str]:
        """The event's wholesale charge: the total charge (charge type ``00``) of each of its charge informations,
        summed, scaled by the batch's ``tapDecimalPlaces``, in the TAP currency; the exchange rate its charge
        informations name (None when they name none, or several different ones); and the charge in the local
        currency: each charge information's total converted with the rate of its own ``exchangeRateCode`` (local
        currency units to one unit of TAP currency, TD.57), summed exactly and rounded once, half up, to
        ``tapDecimalPlaces``. ``charge_lists`` pairs each charge information list with where it is in the event.

        TD.57 makes every item on the way mandatory (the list, each charge information's charge detail list, and in
        it one charge detail of type ``00`` with its charge): when one is missing the charge is unknown, not zero
        (``MissingCharge``); a list with several of type ``00`` leaves the total unknown too (``AmbiguousCharge``),
        as TD.57 allows one. A charge information with a charge above zero must name its exchange rate code, and a
        code named must be in the batch's currency conversion table (TD.57 rejects the call event otherwise):
        ``NoExchangeRate``."""
        total, codes = 0, set()
        local, places = 0, 0  # the local charge, exactly: local / 10^(decimals + places)
        for where, charges in charge_lists:
            if not charges:
                raise MissingCharge(f"{where}.chargeInformationList", "no charge information")
            for i, info in enumerate(charges, 1):
                at = f"{where}.chargeInformationList[{i}]"
                details = info.get("chargeDetailList")
                if not details:
                    raise MissingCharge(f"{at}.chargeDetailList", "no charge detail")
                totals = [d for d in details if d.get("chargeType") == b"00"]
                if len(totals) > 1:
                    raise AmbiguousCharge(f"{at}.chargeDetailList[chargeType=00]", len(totals),
                                          [int(d["charge"]) if "charge" in d else None for d in totals])
                if not totals or "charge" not in totals[0]:
                    raise MissingCharge(f"{at}.chargeDetailList[chargeType=00].charge", "no total charge (a charge "
                                        "detail of charge type 00, with its charge)")
                charge = int(totals[0]["charge"])
                total += charge
                if "exchangeRateCode" not in info:
                    if any(int(d.get("charge", 0)) > 0 for d in details):
                        raise NoExchangeRate(f"{at}.exchangeRateCode", None, "")
                    continue  # no charge to convert
                code = int(info["exchangeRateCode"])
                if code not in self.rates or code in self.unusable:
                    raise NoExchangeRate(f"{at}.exchangeRateCode", code, self.unusable.get(code, ""))
                codes.add(code)
                rate, rate_places = self.rates[code]
                if rate_places > places:
                    local, places = local * 10 ** (rate_places - places), rate_places
                local += charge * rate * 10 ** (places - rate_places)
        rates = {_scaled(*self.rates[code]) for code in codes}
        one = rates.pop() if len(rates) == 1 else None
        with localcontext() as ctx:  # exact: as many digits as the sum has
            ctx.prec = max(28, len(str(abs(local))) + self.decimals + 2)
            converted = Decimal(local).scaleb(-(self.decimals + places)).quantize(
                Decimal(1).scaleb(-self.decimals), rounding=ROUND_HALF_UP)
        return (f"{Decimal(total).scaleb(-self.decimals):.{self.decimals}f}", None if one is None else str(one),
                f"{converted:.{self.decimals}f}")


def _scaled(rate: int, places: int) -> Decimal:
    """An exchange rate as TD.57 writes it (an integer and its number of decimal places) as a Decimal: 78000, 4 ->
    7.8000."""
    return Decimal(rate).scaleb(-places)


class NoExchangeRate(Exception):
    """A charge information whose charge cannot be converted to the local currency: it names no exchange rate code
    though a charge above zero is present (``code`` None; TD.57 requires one then), or a code the batch's currency
    conversion table does not define (TD.57: severe, the call event is rejected), or defines with no usable rate
    (``why``). ``field`` is the exchange rate code's place in the event."""

    def __init__(self, field: str, code: int | None, why: str) -> None:
        super().__init__(f"{field}: {code}")
        self.field = field
        self.code = code
        self.why = why


class AmbiguousCharge(Exception):
    """A charge detail list holding more than one charge detail of type ``00``: TD.57 allows one total charge per
    charge information (a charge type occurs once in its charge detail list), so which one is the total is
    unknown; summing them would count the charge twice. ``field`` is the list in the event."""

    def __init__(self, field: str, count: int, charges: list[int | None]) -> None:
        super().__init__(f"{field}: {count} charge details of type 00")
        self.field = field
        self.count = count
        self.charges = charges


class MissingCharge(Exception):
    """A call event whose charge TD.57 requires is not there: ``field`` is where it should be in the event."""

    def __init__(self, field: str, what: str) -> None:
        super().__init__(f"{field}: {what}")
        self.field = field
        self.what = what


def _subscriber(choice: Any) -> tuple[str, str]:
    """(msisdn, imsi) of a ChargeableSubscriber."""
    if not isinstance(choice, tuple):
        return "", ""
    kind, sub = choice
    if kind == "simChargeableSubscriber":
        return (bcd(sub["msisdn"]) if "msisdn" in sub else "", bcd(sub["imsi"]) if "imsi" in sub else "")
    return (bcd(sub["mdn"]) if "mdn" in sub else "", _str(sub.get("min")))


def _imei(value: Any) -> str | None:
    if isinstance(value, tuple) and value[0] == "imei":
        return bcd(value[1])
    return None


def map_event(batch: Batch, index: int, event: tuple[str, Mapping[str, Any]]) -> dict[str, object]:
    kind, call = event
    record: dict[str, object] = {
        "record_id": f"{batch.sender}-{batch.sequence}-{index}",
        "roaming_country": tadig_country(batch.sender),
        "tap_currency": batch.currency,
        "vpmn": batch.sender,
        "tap_local_currency": batch.local_currency or None,
        "imei": _imei(call.get("equipmentIdentifier")),
    }
    if kind in ("mobileOriginatedCall", "mobileTerminatedCall"):
        basic = call["basicCallInformation"]
        msisdn, imsi = _subscriber(basic.get("chargeableSubscriber"))
        if kind == "mobileOriginatedCall":
            destination = basic.get("destination", {})
            peer = bcd(destination["calledNumber"]) if "calledNumber" in destination else _str(
                destination.get("dialledDigits"))
        else:
            origin = basic.get("callOriginator", {})
            peer = bcd(origin["callingNumber"]) if "callingNumber" in origin else ""
        services = call.get("basicServiceUsedList")
        if not services:
            raise MissingCharge("basicServiceUsedList", "no basic service used")
        codes = {s.get("basicService", {}).get("serviceCode", ("", b""))[1] for s in services}
        location = call.get("locationInformation", {}).get("networkLocation", {})
        record.update(
            msisdn=msisdn or imsi, imsi=imsi or None, peer=peer or None,
            kind="sms" if codes and codes <= SMS_TELESERVICES else "voice",
            direction="out" if kind == "mobileOriginatedCall" else "in",
            started_at=batch.timestamp(basic.get("callEventStartTimeStamp")),
            duration_s=basic.get("totalCallEventDuration"),
            cell_id=str(location["cellId"]) if "cellId" in location else None,
        )
        record["tap_charge"], record["tap_exchange_rate"], record["tap_local_charge"] = batch.charge(
            [(f"basicServiceUsedList[{i}]", s.get("chargeInformationList")) for i, s in enumerate(services, 1)])
        return record
    if kind == "gprsCall":
        basic = call["gprsBasicCallInformation"]
        msisdn, imsi = _subscriber(basic.get("gprsChargeableSubscriber", {}).get("chargeableSubscriber"))
        used = call.get("gprsServiceUsed")
        if not used:
            raise MissingCharge("gprsServiceUsed", "no GPRS service used")
        location = call.get("gprsLocationInformation", {}).get("gprsNetworkLocation", {})
        partial = _str(basic.get("partialTypeIndicator"))
        record.update(
            msisdn=msisdn or imsi, imsi=imsi or None, kind="data",
            started_at=batch.timestamp(basic.get("callEventStartTimeStamp")),
            duration_s=basic.get("totalCallEventDuration"),
            bytes_up=used.get("dataVolumeOutgoing"), bytes_down=used.get("dataVolumeIncoming"),
            apn=_str(basic.get("gprsDestination", {}).get("accessPointNameNI")) or None,
            cell_id=str(location["cellId"]) if "cellId" in location else None,
        )
        record["tap_charge"], record["tap_exchange_rate"], record["tap_local_charge"] = batch.charge(
            [("gprsServiceUsed", used.get("chargeInformationList"))])
        if partial:
            record.update(session_id=f"{batch.sender}:{basic.get('chargingId')}", final=partial == "L")
        return record
    raise UnsupportedEvent(kind)


class UnsupportedEvent(Exception):
    pass


def audit_charge(value: Any, refund: bool = False) -> int:
    """What one call event adds to the batch's Total Charge (TD.57): its charges of type ``00`` and its CAMEL
    invocation fees, except those of a refund (charge information under a ``chargeRefundIndicator``). Walks the
    decoded event whatever its kind, so events this reader does not read count too, as TD.57 counts them."""
    total = 0
    if isinstance(value, Mapping):
        refund = refund or "chargeRefundIndicator" in value
        for key, item in value.items():
            if key == "chargeDetailList" and isinstance(item, list):
                if not refund:
                    total += sum(int(d.get("charge", 0)) for d in item
                                 if isinstance(d, Mapping) and d.get("chargeType") == b"00")
            elif key == "camelInvocationFee" and isinstance(item, int):
                total += 0 if refund else item
            else:
                total += audit_charge(item, refund)
    elif isinstance(value, list | tuple):
        for item in value:
            total += audit_charge(item, refund)
    return total


class Audit:
    """What the batch's audit control info is checked against: its call events as read."""

    def __init__(self) -> None:
        self.events = 0  # call events in the list, read or not
        self.charge = 0  # their Total Charge, summed (``audit_charge``)
        self.undecoded = 0  # events that could not be decoded: their charges are not known
        self.lost_at: int | None = None  # where the list's framing was lost: the events after it are not counted
        self.info: Mapping[str, Any] | None = None  # the decoded audit control info
        self.problem = ""  # why it could not be decoded

    def take(self, data: bytes) -> None:
        tap = _tap()
        try:
            tap.AuditControlInfo.from_ber(data)
            self.info = tap.AuditControlInfo.get_val()
        except Exception as exc:  # pycrate raises several kinds on damaged input
            self.problem = f"{type(exc).__name__}: {exc}"

    def mismatch(self, batch: Batch) -> str | None:
        """Why the batch does not add up (None when it does): the audit control info is missing or undecodable,
        its call event count is not the number of events in the list, or its total charge is not what their
        charges sum to (checked when every event could be decoded). Items the sender left out are not checked."""
        if self.info is None:
            if self.problem:
                return f"its audit control info is undecodable ({self.problem})"
            return "it has no audit control info (TD.57 makes it mandatory), so its call events cannot be checked"
        out = []
        count = self.info.get("callEventDetailsCount")
        if count is not None and int(count) != self.events:
            holds = (f"the batch holds {self.events} call event(s)" if self.lost_at is None else
                     f"{self.events} call event(s) could be told apart before the list's framing was lost at byte "
                     f"{self.lost_at}")
            out.append(f"callEventDetailsCount is {count} but {holds}")
        total = self.info.get("totalCharge")
        if total is not None and not self.undecoded and self.lost_at is None and int(total) != self.charge:
            places = batch.decimals
            out.append(f"totalCharge is {int(total)} ({Decimal(int(total)).scaleb(-places):.{places}f} "
                       f"{batch.currency}) but the call events' charges of type 00 sum to {self.charge} "
                       f"({Decimal(self.charge).scaleb(-places):.{places}f})")
        return "; ".join(out) or None


def _no_rate_reject(exc: NoExchangeRate, file: str, at: int, index: int, kind: str, batch: Batch, raw: bytes) -> Reject:
    """The reject of a call event whose charge has no exchange rate: the file, the record, the field and why."""
    record = f"{batch.sender}-{batch.sequence}-{index}"
    where = f"{Path(file).name}: call event {index} (record {record}) at byte {at} ({kind})"
    table = ", ".join(str(c) for c in sorted(batch.rates.keys() - batch.unusable.keys())) or "none"
    if exc.code is None:
        return make_reject(file, at, "missing_field", (
            f"{where} has a charge above zero but {exc.field} is missing, which TD.57 requires then: without it the "
            f"charge cannot be converted to the local currency, so the call is not read"), raw, field=exc.field)
    why = (f"the batch's currency conversion table (accountingInfo.currencyConversionInfo) defines code {exc.code} "
           f"with no usable rate: {exc.why}") if exc.why else (
        "the batch's currency conversion table (accountingInfo.currencyConversionInfo) does not define it")
    return make_reject(file, at, "bad_value", (
        f"{where}: {exc.field} is {exc.code}, but {why} (codes with a rate: {table}); TD.57 rejects such a call "
        f"event, its charge cannot be converted to the local currency, so the call is not read"), raw, field=exc.field)


def _is_tap(head: bytes) -> bool:
    try:
        top = read_head(head, 0, len(head))
        if top.cls != APPLICATION or not top.constructed or top.tag not in (TRANSFER_BATCH, NOTIFICATION):
            return False
        first = read_head(head, top.body, len(head))
    except TlvError:
        return False
    # a transfer batch opens with its batch control info; a notification with the sender
    return first.cls == APPLICATION and (first.tag == BATCH_CONTROL_INFO if top.tag == TRANSFER_BATCH else True)


class TapTestDataError(UnreadableFileError):
    """A transfer batch marked as test data (``fileTypeIndicator`` ``T``, TD.57): no chargeable usage, so none of
    it is read."""

    code = "tap_test_data"


TEST_DATA = "T"


class Tap3Reader:
    name: ClassVar[str] = "tap3"

    def __init__(self) -> None:
        # the batch this reader read whole (audit control checked), claimed when its file is committed (``claim``)
        self.batch_id: BatchId | None = None
        # fail at construction (ImportError) when pycrate is missing, so detection skips the format; only
        # looked up here: loading the TAP module takes about half a second, which detecting a file of
        # another format should not pay (the first read loads it)
        missing = [m for m in ("pycrate_asn1rt", "pycrate_asn1dir") if importlib.util.find_spec(m) is None]
        if missing:
            raise ImportError(f"TAP 3 needs pycrate ({', '.join(missing)} not installed)")

    def sniff(self, head: bytes, path: Path) -> bool:
        return len(head) >= 4 and _is_tap(head)

    def read(self, path: Path, *, source: str, batch_size: int) -> Iterator[RawBatch]:
        size = os.path.getsize(path)
        if size == 0:
            return
        builder = BatchBuilder(OUTPUT, batch_size=batch_size, types=NATIVE_TYPES)
        file = str(path)
        with path.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buf:
            try:
                yield from self._read(buf, size, file, builder)
            except TlvError as exc:
                builder.reject(make_reject(file, 0, exc.reason, f"not a TAP transfer batch: {exc}", buf[:size]))
        if len(builder):
            yield builder.flush()

    def claim(self, conn: Any, content_hash: str, name: str) -> None:
        """Within the transaction that registers the file: the batch read whole recorded as read (sender,
        recipient, file sequence number), or ``TapBatchRepeatedError`` when a file of other content holds a batch
        so numbered (TD.57: fatal for the whole batch). A batch cut short claims nothing (it may come again
        complete)."""
        if self.batch_id is None:
            return
        from fairtel.mediation._tap_batches import claim

        claim(conn, self.batch_id, content_hash, name)

    def _read(self, buf: Buffer, size: int, file: str, builder: BatchBuilder) -> Iterator[RawBatch]:
        """The parts of the transfer batch in order. A batch cut short by the end of the file keeps every complete
        call event; where the cut falls is one ``truncated`` reject (the call event it cuts, or the part of the
        batch, holding no call event, that it cuts or that is missing). A complete batch is checked against its
        audit control info, and fails as a whole when they do not agree (``AuditMismatchError``)."""
        top, top_cut = lenient(buf, 0, size)
        if top.cls != APPLICATION or not top.constructed or top.tag not in (TRANSFER_BATCH, NOTIFICATION):
            raise TlvError("undecodable", f"top element is not a transfer batch (tag {top.tag})")
        if top.tag == NOTIFICATION:  # a batch with no calls in it: nothing to read
            return
        batch = Batch()
        audit = Audit()
        tap = _tap()
        at = top.body
        last = ""  # the part of the batch read last
        while at < top.end:
            try:
                part, cut = lenient(buf, at, top.end)
            except TlvError as exc:
                message = str(exc)
                if exc.reason == "truncated":
                    message = f"transfer batch cut short by the end of the file ({exc}): {self._cut_message('', audit)}"
                builder.reject(make_reject(file, at, exc.reason, message, buf[at:top.end]))
                return
            name = PARTS.get(part.tag, f"part {part.tag}") if part.cls == APPLICATION else f"element {part.tag}"
            if part.cls == APPLICATION and part.tag == CALL_EVENT_DETAILS:
                yield from self._events(buf, part.body, part.end, file, builder, batch, audit, tap, cut=cut)
            elif cut:  # a part that holds no call event, cut short: the batch is known to be incomplete
                builder.reject(make_reject(file, at, "truncated", self._cut_message(name, audit), buf[at:top.end]))
            elif part.cls == APPLICATION and part.tag in (BATCH_CONTROL_INFO, ACCOUNTING_INFO, NETWORK_INFO):
                batch.take(part.tag, bytes(buf[part.start:part.end]))
                if part.tag == BATCH_CONTROL_INFO and batch.file_type == TEST_DATA:
                    raise TapTestDataError(
                        f"TAP transfer batch {batch.sequence} from {batch.sender} to {batch.recipient} is marked as "
                        f"test data (fileTypeIndicator T, TD.57): it holds no chargeable usage, so none of it is "
                        f"read. Test batches are exchanged to check a roaming link, not billed",
                        details={"sender": batch.sender, "recipient": batch.recipient,
                                 "file_sequence_number": batch.sequence})
            elif part.cls == APPLICATION and part.tag == AUDIT_CONTROL_INFO:
                audit.take(bytes(buf[part.start:part.end]))
            at, last = part.end, name
            if cut:
                return
        if top_cut:  # the file ends between two parts of the batch: what follows is missing
            declared = read_head(buf, 0, size).length
            missing = (f"the file ends after its {last}" if last else "the file ends after its header") + (
                f" ({size} bytes of the {declared} the batch declares)" if declared is not None else "")
            builder.reject(make_reject(file, size, "truncated",
                                       f"transfer batch cut short: {missing}; {self._cut_message('', audit)}", b""))
            return
        if batch.sender and not batch.problems and (why := audit.mismatch(batch)) is not None:
            raise AuditMismatchError(
                f"TAP transfer batch {batch.sequence} from {batch.sender} to {batch.recipient} fails its audit "
                f"control: {why}. Nothing of it is read: ask the sender for the batch again")
        if batch.sender and not batch.problems and audit.info is not None:
            from fairtel.mediation._tap_batches import BatchId

            self.batch_id = BatchId(batch.sender, batch.recipient, batch.sequence)

    @staticmethod
    def _cut_message(name: str, audit: Audit) -> str:
        where = f"transfer batch cut short by the end of the file in its {name}" if name else ""
        if name == PARTS[AUDIT_CONTROL_INFO]:
            what = "its totals cannot be checked against the call events read"
        elif audit.events:
            what = f"no audit control info to check the {audit.events} call event(s) read against"
        else:
            what = "no call event read"
        return f"{where}: {what}" if where else what

    def _events(self, buf: Buffer, at: int, end: int, file: str, builder: BatchBuilder, batch: Batch, audit: Audit,
                tap: Any, *, cut: bool) -> Iterator[RawBatch]:
        index = 0
        while at < end:
            index += 1
            try:
                event, event_cut = lenient(buf, at, end)
            except TlvError as exc:
                message = f"call event cut short by the end of the file ({exc})" if exc.reason == "truncated" else str(exc)
                if exc.reason != "truncated":
                    audit.lost_at = at
                builder.reject(make_reject(file, at, exc.reason, message, buf[at:end]))
                return
            raw = bytes(buf[event.start:event.end])
            if event_cut and cut:
                builder.reject(make_reject(file, at, "truncated", "call event cut short by the end of the file", raw))
                return
            if event_cut:  # inside a list that is whole: a damaged length, not the end of the file
                audit.lost_at = at
                builder.reject(make_reject(file, at, "undecodable", "call event runs past the end of the call event "
                                           "list (a damaged length): the rest of the list is this record", raw))
                return
            audit.events += 1
            if batch.problems or not batch.sender:
                reason = "; ".join(batch.problems) or "no batch control info before the call events"
                builder.reject(make_reject(file, at, "undecodable", reason, raw))
            else:
                self._event(raw, at, index, file, builder, batch, audit, tap)
            at = event.end
            if builder.full:
                yield builder.flush()
        if cut:  # cut right after a complete call event: the rest of the list and the audit are missing
            where = f"after {index} call event(s)" if index else "before its first call event"
            builder.reject(make_reject(file, end, "truncated", f"call event list cut short by the end of the file "
                                       f"{where}: {self._cut_message('', audit)}", b""))

    def _event(self, raw: bytes, at: int, index: int, file: str, builder: BatchBuilder, batch: Batch, audit: Audit,
               tap: Any) -> None:
        try:
            tap.CallEventDetail.from_ber(raw)
            event = tap.CallEventDetail.get_val()
        except Exception as exc:  # pycrate raises several kinds on damaged input
            audit.undecoded += 1
            builder.reject(make_reject(file, at, "undecodable", f"{type(exc).__name__}: {exc}", raw))
            return
        audit.charge += audit_charge(event)
        try:
            record = map_event(batch, index, event)
        except MissingCharge as exc:
            builder.reject(make_reject(
                file, at, "missing_field", f"call event {index} at byte {at} ({event[0]}) has {exc.what}: "
                f"{exc.field} is missing, which TD.57 requires; without it the visited network's charge is unknown "
                f"(not zero), so the call is not read", raw, field=exc.field))
            return
        except AmbiguousCharge as exc:
            charges = ", ".join("none" if c is None else str(c) for c in exc.charges)
            builder.reject(make_reject(
                file, at, "bad_value", f"call event {index} at byte {at} ({event[0]}): {exc.field} occurs {exc.count} "
                f"times (charges {charges}), where TD.57 allows one total charge per charge detail list; which one is "
                f"the visited network's charge is unknown (their sum would count it twice), so the call is not read",
                raw, field=exc.field))
            return
        except NoExchangeRate as exc:
            builder.reject(_no_rate_reject(exc, file, at, index, event[0], batch, raw))
            return
        except UnsupportedEvent:
            builder.reject(make_reject(file, at, "unsupported_record", f"TAP event {event[0]} is not read", raw))
            return
        except KeyError as exc:
            builder.reject(make_reject(file, at, "missing_field", f"{event[0]} without {exc}", raw, field=str(exc)))
            return
        except (AttributeError, TypeError, ValueError) as exc:  # decoded, but not shaped as a call event of its kind
            builder.reject(make_reject(file, at, "undecodable", f"{event[0]}: {type(exc).__name__}: {exc}", raw))
            return
        builder.add(at, raw, record)

