"""Wording of the month of an owner change (过户), in ``test_billing_gap_owner_change_late``'s home: line A moves from
c1 to c9 on 10 March, and the bill run holds c1's call of the 5th and c1's music pack of the 3rd (a VAS charge).

Before: `fairtel bill` said "2 usage record(s) ... held" of a call and a VAS charge, its owner-change note named the
whole number where other messages mask it, and refusing to release the music pack called it "not the subscriber's
usage"."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from test_billing_cli import A, as_json, invoke, runner
from test_billing_gap_owner_change_late import P, home

from fairtel.cli import app as fairtel
from fairtel.privacy import mask_msisdn

__all__ = ["home"]


def test_the_bill_run_counts_usage_and_vas_charges_apart_and_masks_the_number(home: Path) -> None:
    run = as_json(home, "bill", "--period", P, "--issue")
    held = next(n for n in run["notes"] if "held, not billed" in n)
    assert held.startswith("1 usage record(s) and 1 VAS charge(s) of 1 line(s) held"), held
    moved = next(n for n in run["notes"] if "moved to another customer" in n)
    assert mask_msisdn(A) in moved and A not in moved, moved
    shown = " ".join(invoke(home, "bill", "--period", P).stdout.split())
    assert A not in shown


def test_refusing_to_release_a_held_vas_charge_words_it_as_a_vas_charge(home: Path) -> None:
    invoke(home, "bill", "--period", P, "--issue")
    vas = runner.invoke(fairtel, ["bill", "release", "--period", P, "--record", "c1-music", "--by", "eng1",
                                "--home", str(home)])
    said = " ".join(vas.output.split())
    assert vas.exit_code != 0 and "not the subscriber's VAS charge" in said and "subscriber's usage" not in said, said
    call = runner.invoke(fairtel, ["bill", "release", "--period", P, "--record", "c1-call", "--by", "eng1",
                                 "--home", str(home)])
    assert "not the subscriber's usage" in " ".join(call.output.split()), call.output
