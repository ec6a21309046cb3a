"""A late VAS charge a rerate refused is not "unbilled" for ever: rated consented after the bills, then found
refused by the consent gate as it stands (a cancellation dated before the charge, imported since), the rerate
issues nothing for it; every rerun of the bill run still said `unbilled_late_vas: 1` and "fairtel rerate
charges those the consent gate still lets through"."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import test_billing_gap_late_vas as late_vas
from test_billing_cli import P, as_json
from test_billing_gap_late_vas import A, _consent, _event, _usage, _vas

home = late_vas.home  # A (music pack and ringtones, confirmed), B and C billed for March; VAS taxed at 6 %


def test_a_late_vas_charge_the_rerate_refused_is_not_reported_as_unbilled(home: Path) -> None:
    _usage(home, "t2", [_vas("r3", A, "vas-ringtone-2", 200, 20)])
    assert as_json(home, "bill", "--period", P, "--issue")["unbilled_late_vas"] == 1  # consented when rated
    # A's ringtone subscription was cancelled on the 15th: the operator's file of it arrives only now
    _consent(home, "c2.jsonl", [_event("cancelled", "s2", A, "vas-ringtone-2", "2026-03-15T09:00:00+08:00")])
    rr = as_json(home, "rerate", "--period", P)
    assert rr["vas_charged"] == 0 and rr["vas_refused"] == 1 and rr["adjustments_issued"] == 0
    again = as_json(home, "bill", "--period", P, "--issue")
    assert again["unbilled_late_vas"] == 0, again
    assert not any("rerate --period" in n for n in again["notes"]), again["notes"]
