"""Privacy: who may see which personal data, and how analysts see subscribers without seeing them.

Owns: keyed pseudonyms of numbers and ids (stable per key, not reversible without it, unlike plain hashes
which anyone can brute-force over the 10^10 mobile numbers of a country), keyed sort keys (a list in an order
of its own, neither the numbers' nor the pseudonyms', read from an index), finding numbers in text however
people write them (as E.164 numbers of the operator's home numbering plan, ``home_numbering``: the caller passes
the home country, ``home_country``, mainland China's ``HOME_COUNTRY_CODE`` without one) and hiding ID-card and
bank-card numbers there, masking for display and masking for good the personal data of text kept where nothing
erases it (``mask_personal_data``: phone, ID-card and bank-card numbers, e-mail addresses), the fingerprint of the
key pseudonyms derive from, kept in the home so that another key is refused rather than changing every pseudonym
(``check_key``, ``secret_key_mismatch``), the role model and its permissions. Does not own: storing the
access audit (store/), enforcing it on requests (api/: ``can`` and ``view_of`` here) or recording what the
command line shows in clear (cli/_audit.py: the same audit, under these pseudonyms).
"""

from fairtel.privacy._key import (
    KEY_FINGERPRINT_FILE,
    SecretKeyMismatchError,
    check_key,
    fingerprint_file,
    key_fingerprint,
    key_mismatch,
    put_fingerprint,
    record_fingerprint,
    recorded_fingerprint,
    short_fingerprint,
)
from fairtel.privacy._masking import mask_identity_data, mask_personal_data
from fairtel.privacy._numbers import (
    CARD_NUMBER_MARK,
    HOME_COUNTRY_CODE,
    ID_NUMBER_MARK,
    HomeNumbering,
    e164_of,
    has_number,
    hide_identity_numbers,
    home_numbering,
    number_in_id,
    pseudonymise_numbers,
    replace_numbers,
    replace_numbers_in,
    replace_numbers_in_id,
    replace_numbers_in_words,
)
from fairtel.privacy._pseudonym import ORDER_KEY_BYTES, KeyedOrder, Pseudonymizer, mask_msisdn
from fairtel.privacy._roles import Permission, Role, can, permissions_of, view_of

__all__ = [
    "CARD_NUMBER_MARK",
    "HOME_COUNTRY_CODE",
    "ID_NUMBER_MARK",
    "KEY_FINGERPRINT_FILE",
    "ORDER_KEY_BYTES",
    "HomeNumbering",
    "KeyedOrder",
    "Permission",
    "Pseudonymizer",
    "Role",
    "SecretKeyMismatchError",
    "can",
    "check_key",
    "e164_of",
    "fingerprint_file",
    "has_number",
    "hide_identity_numbers",
    "home_numbering",
    "key_fingerprint",
    "key_mismatch",
    "mask_identity_data",
    "mask_msisdn",
    "mask_personal_data",
    "number_in_id",
    "permissions_of",
    "pseudonymise_numbers",
    "put_fingerprint",
    "record_fingerprint",
    "recorded_fingerprint",
    "replace_numbers",
    "replace_numbers_in",
    "replace_numbers_in_id",
    "replace_numbers_in_words",
    "short_fingerprint",
    "view_of",
]
