"""A value-added service counts charges (unit ``item``): its quantity is told in words, not as a bare number."""

from __future__ import annotations

from fairtel.api._explain import quantity_text


def test_an_item_quantity_is_a_number_of_charges() -> None:
    assert quantity_text(1, "item") == ("1 charge", "1 笔")
    assert quantity_text(3, "item") == ("3 charges", "3 笔")
    assert quantity_text(None, "item") == ("", "")

