"""`fairtel fraud features --pseudonymise` names each line by its keyed pseudonym (column `pseudonym`, the one the API
shows analysts), never its number: a model trains on a grouping key, and the file an analyst is handed then holds no
subscriber's number. Before: the export had no such option, only plain numbers."""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from test_fraud_score import _home, runner

from fairtel.bootstrap import bootstrap
from fairtel.cli import app
from fairtel.core.settings import load_settings
from fairtel.learn import read_table
from fairtel.privacy import Pseudonymizer


def test_the_export_names_lines_by_pseudonym(tmp_path: Path) -> None:
    home, truth = _home(tmp_path)
    plain, hidden = tmp_path / "plain.csv", tmp_path / "hidden.csv"
    for out, extra in ((plain, []), (hidden, ["--pseudonymise"])):
        r = runner.invoke(app, ["fraud", "features", "--home", str(home), "--period", "2026-09", "--out", str(out),
                                "--json", *extra])
        assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["pseudonymised"] is True
    a, b = read_table(plain), read_table(hidden)
    assert b.columns[0] == "pseudonym" and "msisdn" not in b.columns and a.height == b.height
    with bootstrap(load_settings(home=home)) as fapp:
        name = Pseudonymizer(fapp.settings.secret_key.get_secret_value(), domain="msisdn")
    assert sorted(b["pseudonym"].to_list()) == sorted(name(m) for m in a["msisdn"].to_list())
    text = hidden.read_text(encoding="utf-8")
    assert not any(m in text for m in truth["2026-09"])  # no number anywhere in the file
    assert a.drop("msisdn").equals(b.drop("pseudonym"))  # the features and labels as the plain export's
