"""`fairtel explain` of a record rating left out says why in words: which plan, kind and direction had no rule, or
that the party is not a number; it said only the bare code (`was not rated: no_rule`)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pyarrow as pa

sys.path.insert(0, str(Path(__file__).parent))
import test_billing_cli as base
from test_billing_cli import A, P, open_app, rec, runner

from fairtel.catalog import default_catalog_path, load_catalog
from fairtel.cli import app as fairtel
from fairtel.cli._rating import rate_period
from fairtel.core.contracts import CLEAN_USAGE_SCHEMA
from fairtel.core.time import Period

home = base.home


def _failed(home: Path, *args: str) -> dict[str, object]:
    result = runner.invoke(fairtel, [*args, "--home", str(home)])
    assert result.exit_code == 2, result.output
    out: dict[str, object] = json.loads(result.stdout)
    return out


def test_an_unrated_record_is_explained_in_words(home: Path) -> None:
    app = open_app(home)
    app.lake.write("usage", P, pa.Table.from_pylist([rec("u2", A, duration_s=60, peer="client2")],
                                                    schema=CLEAN_USAGE_SCHEMA), part="t2")
    assert rate_period(app, Period.parse(P), catalog=load_catalog(default_catalog_path()))["unrated"] == 1
    app.close()
    body: dict = _failed(home, "explain", "u2", "--lang", "en", "--json")
    message = body["error"]["message"]
    assert message.startswith("record 'u2' was not rated: ") and message != "record 'u2' was not rated: peer_not_a_number"
    assert "client2" in message or "not a number" in message, message
    assert body["error"]["details"]["reason"] == "peer_not_a_number"
    zh: dict = _failed(home, "explain", "u2", "--lang", "zh", "--json")
    assert zh["error"]["message"] != message  # worded in Chinese, not the English sentence
