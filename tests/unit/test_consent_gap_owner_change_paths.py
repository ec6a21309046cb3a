"""The paths that build the consent gate outside ``fairtel rate`` carry the owner change too: the Spark job's
register (``engines._job._lines``) keeps ``holder_since``, and a watch that learns of an owner change while it runs
(``engines._online._with_lines``) gives the gate's subscriptions the new holding, so that the charge keys rebuilt from
rated lines are the gate's own."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
from tests.unit.test_consent_gap_owner_change_gate import CHANGE, A, charges, register, subscriptions, verdicts

from fairtel.catalog import default_catalog_path, load_catalog
from fairtel.consent import Verdict, subscription_coverage
from fairtel.engines._job import _lines
from fairtel.engines._online import _with_lines
from fairtel.rating import consent_gate


def test_the_spark_job_register_keeps_holder_since_and_refuses_the_previous_customer_s_charge() -> None:
    text = register().with_columns(pl.col("activated_at", "holder_since").dt.strftime("%Y-%m-%dT%H:%M:%S%:z"))
    lines = _lines(text)
    assert lines is not None and "holder_since" in lines.columns
    assert lines.filter(pl.col("msisdn") == A)["holder_since"].to_list() == [CHANGE]
    gate = consent_gate(subscriptions(), load_catalog(default_catalog_path()), lines=lines)
    assert verdicts(gate(charges()))["music-mar11"] == Verdict.PREVIOUS_HOLDER.value


def test_a_watch_learning_of_an_owner_change_keys_the_new_customer_s_subscription_apart() -> None:
    catalog = load_catalog(default_catalog_path())
    subs = subscriptions()
    # the watch started before the register knew of the change: one line state, no holding
    gate = consent_gate(subs, catalog, lines=register(holder_since=None))
    assert verdicts(gate(charges()))["music-mar11"] == Verdict.CONSENTED.value
    changed = _with_lines(gate, pl.Series([A]), register())
    assert verdicts(changed(charges()))["music-mar11"] == Verdict.PREVIOUS_HOLDER.value  # type: ignore[misc]
    held = changed.subscriptions.filter(pl.col("msisdn") == A)["holder_since"].unique().to_list()  # type: ignore[union-attr]
    assert held == [datetime(2026, 3, 9, 16, tzinfo=UTC)]
    coverage = subscription_coverage(changed.subscriptions)  # type: ignore[union-attr]
    of = dict(zip(coverage["subscription_id"].to_list(), coverage["coverage_id"].to_list(), strict=True))
    assert of["new-video"] == "new-video"
