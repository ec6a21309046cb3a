"""`fairtel load` gives the lines it imports their places in the subscriber list's keyed order (the API's
``keep_sort_keys``), so that the first list after a large import does not make them while an analyst waits."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select, update
from typer.testing import CliRunner

from fairtel.cli import app
from fairtel.privacy import Pseudonymizer
from fairtel.store import Subscriber, connect
from fairtel.store._schema import table_of

SECRET = "load-sort-keys-secret-0123456789abcdef"
NUMBERS = [f"86138{n:08d}" for n in range(0, 50 * 7919, 7919)]


def write_register(directory: Path, numbers: list[str]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "subscribers.csv").write_text("msisdn,customer_id,plan_id,activated_at,status,language,region\n" + "".join(
        f"{m},cust-{m},payg,2025-03-01T09:00:00+08:00,active,zh,Shanghai\n" for m in numbers), encoding="utf-8")


def load(home: Path, directory: Path) -> dict:
    result = CliRunner().invoke(app, ["--home", str(home), "load", str(directory), "--json", "--no-usage"],
                                env={"FAIRTEL_SECRET_KEY": SECRET, "FAIRTEL_DATABASE_URL": f"sqlite:///{home / 'fairtel.db'}"})
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def keys(home: Path) -> dict[str, bytes | None]:
    engine = connect(f"sqlite:///{home / 'fairtel.db'}")
    try:
        t = table_of(Subscriber)
        with engine.connect() as conn:
            return {r.msisdn: None if r.pseudonym_order is None else bytes(r.pseudonym_order)
                    for r in conn.execute(select(t.c.msisdn, t.c.pseudonym_order))}
    finally:
        engine.dispose()


def test_load_keys_the_lines_it_imports(tmp_path: Path) -> None:
    home, ops = tmp_path / "home", tmp_path / "operator"
    write_register(ops, NUMBERS)
    assert load(home, ops)["subscribers"]["inserted"] == len(NUMBERS)
    order = Pseudonymizer(SECRET).order
    assert keys(home) == {m: order(m) for m in NUMBERS}

    # lines left without one (by an earlier version, or another tool) are keyed by the next load too
    engine = connect(f"sqlite:///{home / 'fairtel.db'}")
    with engine.begin() as conn:
        conn.execute(update(table_of(Subscriber)).where(table_of(Subscriber).c.msisdn.in_(NUMBERS[:5]))
                     .values(pseudonym_order=None))
    engine.dispose()
    write_register(ops, [*NUMBERS, "8613999999999"])
    assert load(home, ops)["subscribers"]["inserted"] == 1
    assert keys(home) == {m: order(m) for m in [*NUMBERS, "8613999999999"]}
