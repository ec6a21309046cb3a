"""The public data contracts (v1) of DESIGN.md, as code: field names, closed sets and Arrow schemas.

Operators feed their own data in these shapes; extend with optional fields, never change a meaning.
docs/formats.md documents each one.
"""

from __future__ import annotations

from enum import StrEnum

import pyarrow as pa


class UsageKind(StrEnum):
    VOICE = "voice"
    SMS = "sms"
    DATA = "data"
    VAS = "vas"


class Direction(StrEnum):
    OUT = "out"
    IN = "in"


class ConsentEventKind(StrEnum):
    ORDERED = "ordered"
    CONFIRMED = "confirmed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


class ConsentChannel(StrEnum):
    SMS = "sms"
    APP = "app"
    WEB = "web"
    STORE = "store"
    IVR = "ivr"


class SubscriberStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    CLOSED = "closed"


class Language(StrEnum):
    ZH = "zh"
    EN = "en"


class ComplaintCategory(StrEnum):
    """What a complaint is about: the codes complaints are filed, stored and reported under, and the keys of the
    ``sla`` setting (core's settings check them; care files complaints under them)."""

    UNEXPLAINED_CHARGE = "unexplained_charge"
    MALICIOUS_CHARGE = "malicious_charge"  # 恶意扣费: charges a malicious app or program made by itself
    ROAMING = "roaming"  # 国际漫游: charges and service abroad
    BILLING_ERROR = "billing_error"
    NETWORK_QUALITY = "network_quality"
    SERVICE_ATTITUDE = "service_attitude"
    FRAUD = "fraud"
    PRIVACY = "privacy"
    PRICE = "price"
    OTHER = "other"


# Canonical usage record as an operator writes it (CSV header / JSON keys / Parquet columns).
USAGE_FIELDS: tuple[str, ...] = (
    "record_id", "source", "msisdn", "kind", "direction", "started_at", "duration_s", "bytes_up",
    "bytes_down", "peer", "offer_id", "amount", "currency", "roaming_country", "cell_id", "imei",
    "session_id", "seq", "final", "imsi", "vpmn", "apn", "wholesale_charge", "wholesale_currency",
)
USAGE_REQUIRED: tuple[str, ...] = ("record_id", "msisdn", "kind", "started_at")

# Columns of CLEAN_USAGE_SCHEMA added after its first version, all nullable: a lake part written before them lacks
# them and reads as null there (``store.Lake``), and an input that does not carry them is as valid as before.
# ``imsi``, ``vpmn`` (the visited network's TADIG code) and ``apn`` are what a roaming record names; the
# wholesale charge is what the visited network charges the home operator for the record (a TAP call event's
# total charge), not what the subscriber pays: ``wholesale_charge_units`` in units of
# 10^-``wholesale_charge_decimals`` of ``wholesale_charge_currency`` (ISO 4217, or ``XDR`` for SDR), exactly as
# the sender wrote it (TAP's ``tapDecimalPlaces`` are finer than any currency's minor unit, never rounded).
CLEAN_USAGE_OPTIONAL: tuple[str, ...] = (
    "imsi", "vpmn", "apn", "wholesale_charge_units", "wholesale_charge_decimals", "wholesale_charge_currency",
)

# A clean usage record after mediation: typed, deduplicated, partials stitched. Money at rest is integer
# minor units plus currency. ``parts`` counts stitched partial records (1 for a whole record) and
# ``incomplete`` marks a session emitted on timeout without its final part.
CLEAN_USAGE_SCHEMA = pa.schema(
    [
        pa.field("record_id", pa.string(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("msisdn", pa.string(), nullable=False),
        pa.field("kind", pa.string(), nullable=False),
        pa.field("direction", pa.string()),
        pa.field("started_at", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("duration_s", pa.int64()),
        pa.field("bytes_up", pa.int64()),
        pa.field("bytes_down", pa.int64()),
        pa.field("peer", pa.string()),
        pa.field("offer_id", pa.string()),
        pa.field("amount_minor", pa.int64()),
        pa.field("currency", pa.string()),
        pa.field("roaming_country", pa.string()),
        pa.field("cell_id", pa.string()),
        pa.field("imei", pa.string()),
        pa.field("session_id", pa.string()),
        pa.field("parts", pa.int32()),
        pa.field("incomplete", pa.bool_()),
        pa.field("imsi", pa.string()),
        pa.field("vpmn", pa.string()),
        pa.field("apn", pa.string()),
        pa.field("wholesale_charge_units", pa.int64()),
        pa.field("wholesale_charge_decimals", pa.int32()),
        pa.field("wholesale_charge_currency", pa.string()),
    ]
)

CONSENT_FIELDS: tuple[str, ...] = ("event", "subscription_id", "msisdn", "offer_id", "at", "channel", "evidence")

SUBSCRIBER_FIELDS: tuple[str, ...] = (
    "msisdn", "customer_id", "plan_id", "activated_at", "status", "language", "region",
)
