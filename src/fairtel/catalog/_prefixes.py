"""Longest-prefix lookup of destination numbers, one row at a time or on a whole column."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import polars as pl


def normalise_number(number: str) -> str:
    """E.164 digits: a leading ``+`` or international ``00`` and any spaces or dashes are dropped."""
    n = number.strip().replace(" ", "").replace("-", "")
    if n.startswith("+"):
        return n[1:]
    if n.startswith("00"):
        return n[2:]
    return n


@dataclass(frozen=True, slots=True)
class PrefixTable:
    """Prefixes to zone ids. ``lengths`` lists the prefix lengths present, longest first."""

    zone_of_prefix: dict[str, str]
    lengths: tuple[int, ...]
    fallback: str | None

    @classmethod
    def build(cls, pairs: list[tuple[str, str]], fallback: str | None) -> PrefixTable:
        table = dict(pairs)
        return cls(table, tuple(sorted({len(p) for p in table}, reverse=True)), fallback)

    def lookup(self, number: str) -> str | None:
        n = normalise_number(number)
        for length in self.lengths:
            if length <= len(n):
                zone = self.zone_of_prefix.get(n[:length])
                if zone is not None:
                    return zone
        return self.fallback

    def rows(self) -> list[tuple[str, str]]:
        """(prefix, zone id), longest prefix first: the first row whose prefix starts a number wins."""
        return sorted(self.zone_of_prefix.items(), key=lambda kv: (-len(kv[0]), kv[0]))

    def expr(self, number: pl.Expr) -> pl.Expr:
        """A Polars expression mapping a column of E.164 digit strings to zone ids (null if unmatched).

        One dictionary lookup per distinct prefix length, longest first, so the cost does not grow with the
        number of prefixes. The column must hold E.164 digits (as mediation writes ``peer``): unlike
        ``lookup`` it does not strip ``+``, ``00`` or spaces, which would be recomputed for every length.
        """
        import polars as pl

        tries: list[pl.Expr] = []
        for length in self.lengths:
            # integer keys hash faster than strings; prefixes never start with 0 (validation), so a head that
            # is shorter, has a leading 0 or is not all digits cannot hit a key of this length
            mapping = {int(p): z for p, z in self.zone_of_prefix.items() if len(p) == length}
            head = number.str.slice(0, length).cast(pl.Int64, strict=False)
            tries.append(head.replace_strict(mapping, default=None, return_dtype=pl.String))
        tries.append(pl.lit(self.fallback, dtype=pl.String))
        return pl.coalesce(tries)
