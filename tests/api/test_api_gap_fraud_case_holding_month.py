"""To a reader who does not see the number (a fraud analyst through the API), a case about a line dates the line's
holding to the month only, consistently: the new-holder reason says the month of the owner change (过户), and the
instants of the line's calls the case states beside its ages (``premium_first_at``, ``premium_last_at``, each premium
call's ``started_at``) are cut to their month too. With them to the second, a whole-day age at the first premium call
(2 days) gave the day the line changed hands (12 March less 2 days: the 10th), a day its new customer took the line
with their ID. What the case holds, and what the command line shows an analyst who sees the number, is unchanged.
Before: ``premium_first_at`` "2026-03-12T10:00:00+08:00" beside ``premium_line_age_days`` 2."""

from __future__ import annotations

import json
import re

from fairtel_seed import Seeded
from fastapi.testclient import TestClient
from test_api_gap_fraud_case_new_holder_date import FRESH, MOVED, _cases, _shown


def test_a_pseudonymised_reader_gets_no_day_of_the_line_holding_from_a_case(
        client: TestClient, tokens: dict[str, str], seeded: Seeded) -> None:
    irsf = _cases("irsf")
    stored = irsf[MOVED].evidence
    assert str(stored["premium_first_at"]).startswith("2026-03-12T10:00")  # kept as detected
    assert stored["premium_line_age_days"] > 2
    shown = _shown(client, tokens["fraud1"], seeded, irsf)
    for line in (MOVED, FRESH):  # a new holder's and a new line's alike
        evidence = shown[line]["evidence"]["evidence"]
        assert evidence["premium_first_at"] == "2026-03" and evidence["premium_last_at"] == "2026-03"
        assert evidence["premium_line_age_days"] == 2 and evidence["line_age_days"] == 2  # whole days, as before
        assert evidence["premium_calls"] == 6  # the rest of the evidence as it is
        assert not re.search(r"2026-03-\d\d", json.dumps(shown[line], ensure_ascii=False)), shown[line]
