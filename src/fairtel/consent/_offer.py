"""What the consent gate needs to know about a value-added offer, independent of the catalog's own classes."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Protocol

import polars as pl

from fairtel.core.errors import InvalidInputError, Problem
from fairtel.core.money import Money
from fairtel.core.time import require_aware


class OfferPeriod(StrEnum):
    """How often an offer may be charged: once per billing period, or once per use."""

    MONTHLY = "monthly"
    PER_USE = "per_use"


class OfferLike(Protocol):
    """Any object with these attributes can stand for an offer (the catalog's offers do). The provider is
    read from ``provider_id`` or ``provider``; the currency from ``currency`` when the object has one."""

    @property
    def offer_id(self) -> str: ...

    @property
    def price(self) -> Decimal: ...

    @property
    def period(self) -> Any: ...


@dataclass(frozen=True, slots=True)
class Offer:
    """A value-added offer as the gate sees it. ``valid_from`` dates a price version (None: always)."""

    offer_id: str
    provider_id: str
    price: Decimal
    currency: str
    period: OfferPeriod
    valid_from: datetime | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "period", OfferPeriod(str(getattr(self.period, "value", self.period))))
        if self.valid_from is not None:
            require_aware(self.valid_from, "Offer.valid_from")

    @property
    def price_minor(self) -> int:
        return Money.of(self.price, self.currency).to_minor()

    @classmethod
    def adapt(cls, offer: OfferLike, *, currency: str = "CNY") -> Offer:
        """Copy any offer-shaped object (e.g. the catalog's) into this class; ``currency`` is used when the
        object has none (catalog offers are priced in the operator's currency)."""
        if isinstance(offer, Offer):
            return offer
        provider = getattr(offer, "provider_id", None) or getattr(offer, "provider", None)
        if provider is None:
            raise TypeError(f"offer {offer.offer_id!r} names no provider")
        price = offer.price
        return cls(
            offer_id=str(offer.offer_id),
            provider_id=str(provider),
            price=price if isinstance(price, Decimal) else Decimal(str(price)),
            currency=str(getattr(offer, "currency", None) or currency),
            period=OfferPeriod(str(getattr(offer.period, "value", offer.period))),
            valid_from=getattr(offer, "valid_from", None),
        )


OfferBook = Mapping[str, "OfferLike | Sequence[OfferLike]"]

OFFER_FRAME_SCHEMA: dict[str, pl.DataType] = {
    "offer_id": pl.String(),
    "provider_id": pl.String(),
    "price_minor": pl.Int64(),
    "offer_currency": pl.String(),
    "offer_period": pl.String(),
    "valid_from": pl.Datetime("us", "UTC"),
}


def _versions(value: OfferLike | Sequence[OfferLike]) -> Iterable[OfferLike]:
    if isinstance(value, str | bytes):
        raise TypeError("an offer book maps offer ids to offers")
    if isinstance(value, Sequence):
        return value
    return (value,)


def offer_book(offers: Iterable[OfferLike], *, currency: str = "CNY") -> dict[str, list[Offer]]:
    """An offer book from any offers (e.g. ``catalog.offers``), grouping price versions by offer id. An offer
    that dates its prices (``versions()``: (valid from, price) pairs, as the catalog's do) gives one version each."""
    book: dict[str, list[Offer]] = {}
    for raw in offers:
        o = Offer.adapt(raw, currency=currency)
        versions = getattr(raw, "versions", None)
        dated = [replace(o, price=price, valid_from=at) for at, price in versions()] if callable(versions) else [o]
        book.setdefault(o.offer_id, []).extend(dated)
    return book


def offers_frame(offers: OfferBook, *, currency: str = "CNY") -> pl.DataFrame:
    """One row per offer price version: the offer book as a frame the gate can join.

    A key may map to one offer or to a sequence of price versions, each with its ``valid_from``; a version
    applies from its ``valid_from`` until the next one. Every problem is reported at once.
    """
    rows: list[dict[str, object]] = []
    problems: list[Problem] = []
    for key, value in offers.items():
        for raw in _versions(value):
            o = Offer.adapt(raw, currency=currency)
            if o.offer_id != key:
                problems.append(Problem("offers", None, "offer_id", f"key {key!r} holds offer {o.offer_id!r}"))
                continue
            try:
                minor = o.price_minor
            except Exception as exc:  # unknown currency, sub-minor precision
                problems.append(Problem("offers", None, "price", f"{key}: {exc}"))
                continue
            rows.append(
                {
                    "offer_id": o.offer_id,
                    "provider_id": o.provider_id,
                    "price_minor": minor,
                    "offer_currency": o.currency,
                    "offer_period": o.period.value,
                    "valid_from": o.valid_from,
                }
            )
    if problems:
        raise InvalidInputError(problems, what="offers")
    frame = pl.DataFrame(rows, schema=OFFER_FRAME_SCHEMA)
    dup = frame.filter(pl.struct("offer_id", "valid_from").is_duplicated())
    if dup.height:
        raise InvalidInputError(
            [Problem("offers", None, "valid_from", f"{r['offer_id']}: two versions from the same instant") for r in dup.unique("offer_id", maintain_order=True).iter_rows(named=True)],
            what="offers",
        )
    return frame.sort("offer_id", "valid_from", nulls_last=False)
