"""Personal data in free text masked for good, where the text is kept where nothing can erase it later (an agent's
note on a complaint, in an append-only ledger): phone numbers, resident ID-card and bank-card numbers, e-mail
addresses. What stays tells a reader what was there (``138****8000``, ``z***@example.com``, the ID-card mark), never
enough to call, mail or impersonate the person.
"""

from __future__ import annotations

import re

from fairtel.privacy._numbers import hide_identity_numbers, replace_numbers
from fairtel.privacy._pseudonym import mask_msisdn

# An address as people type one: a local part of letters, digits and ``._%+-``, an ``@`` (full-width too), a domain of
# labels ending in letters. The local part's first character stays, the domain whole (the provider, not the person).
_EMAIL = re.compile(r"(?<![\w.%+-])([\w.%+-])[\w.%+-]*[@＠]((?:[\w-]+\.)+[A-Za-z]{2,})(?![\w-])")


def mask_personal_data(text: str) -> str:
    """``text`` with its e-mail addresses masked (``z***@example.com``), every phone number in it however written
    masked as a statement masks one (``mask_msisdn``, on the digits as written: ``13800138000``, ``138-0013-8000``
    and ``138 0013 8000`` become ``138****8000``, ``+86 138 0013 8000`` ``86138****8000``), and its ID-card and
    bank-card numbers replaced whole by their marks (``ID_NUMBER_MARK``: no digit of an ID card is kept, the last
    ones being what a caller proves who they are with). Digits inside ids (``cmp-0000099``, ``adj_01jd…``), dates and
    amounts stay as written; a number of 7 to 15 digits standing alone is taken for a phone number, whichever
    country's. Masking masked text changes nothing."""
    text = _EMAIL.sub(lambda m: f"{m.group(1)}***@{m.group(2)}", text)
    return replace_numbers(text, mask_msisdn, standalone=True)


def mask_identity_data(text: str) -> str:
    """``text`` with its e-mail addresses masked (``z***@example.com``) and its ID-card and bank-card numbers replaced
    whole by their marks, phone numbers left as written: for text whose readers are shown its phone numbers by their
    role when they read it (the agent handling the subscriber sees the number, an analyst its keyed pseudonym), which
    a partly masked number (``138****8000``, seven digits of eleven) would defeat for the analyst."""
    return hide_identity_numbers(_EMAIL.sub(lambda m: f"{m.group(1)}***@{m.group(2)}", text))
