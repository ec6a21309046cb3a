import hashlib

import pytest

from fairtel.privacy import Permission, Pseudonymizer, Role, can, mask_msisdn, view_of
from fairtel.privacy._roles import View


def test_pseudonyms_are_stable_keyed_and_domain_separated() -> None:
    p = Pseudonymizer("k" * 32)
    assert p("8613812345678") == p("8613812345678")
    assert p("8613812345678") != p("8613812345679")
    assert Pseudonymizer("x" * 32)("8613812345678") != p("8613812345678")  # another key, another pseudonym
    assert Pseudonymizer("k" * 32, domain="customer")("8613812345678") != p("8613812345678")
    # not a plain hash of the number, which anyone could recompute
    assert hashlib.sha256(b"8613812345678").hexdigest()[:20] not in p("8613812345678")
    assert len(p("8613812345678")) == 21


def test_short_keys_refused() -> None:
    with pytest.raises(ValueError):
        Pseudonymizer("short")


def test_mask() -> None:
    assert mask_msisdn("8613812345678") == "86138****5678"
    assert mask_msisdn("123") == "***"


def test_role_views_and_grants() -> None:
    assert view_of(Role.SUBSCRIBER, own=True) is View.PLAIN
    assert view_of(Role.AGENT) is View.MASKED
    assert view_of(Role.AGENT, handling=True) is View.PLAIN
    assert view_of(Role.ANALYST) is View.PSEUDONYM
    assert can(Role.ADMIN, Permission.AUDIT_READ) and not can(Role.ANALYST, Permission.AUDIT_READ)
    assert not can(Role.SUBSCRIBER, Permission.CUSTOMER_READ)
