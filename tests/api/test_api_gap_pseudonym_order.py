"""The subscriber list reads each page from a stored, indexed sort key (``subscribers.pseudonym_order``), not from
every line's digest computed and sorted again per page: a line is keyed once, when the server starts, when
``fairtel load`` imports it, or when the list first meets it, and again when the secret is replaced; a page costs
what its own rows cost. The key is keyed by the secret under a key of its own: the list's order is neither the
numbers' nor the pseudonyms', and no stored key reveals a pseudonym (a copy of the database holds the numbers
beside their keys, and the audit's pseudonyms)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fairtel_seed import ALICE, Seeded, seed
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, select, text, update
from sqlalchemy.engine import Engine

from fairtel.api import ApiOptions, create_app
from fairtel.api._access import Access, Pseudonyms
from fairtel.api._customers import SubscriberOut, list_subscribers
from fairtel.api._paging import Page, encode_after
from fairtel.api._security import Principal
from fairtel.core.errors import InvalidInputError
from fairtel.privacy import KeyedOrder, Pseudonymizer, Role, mask_msisdn
from fairtel.store import AccessAudit, Subscriber, connect, import_subscribers, migrate
from fairtel.store._schema import table_of

KEY, OTHER_KEY = "order-test-key-0123456789abcdef", "order-test-key-replaced-fedcba98"
NUMBERS = [f"86137{n:08d}" for n in range(0, 300 * 7919, 7919)]  # in number order here
LATE = [f"86159{n:08d}" for n in range(0, 40 * 104729, 104729)]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        e = migrate(connect(f"sqlite:///{tmp_path / 'home.db'}"))
        import_lines(e, tmp_path, NUMBERS)
        yield e
        e.dispose()
        return
    url: str = request.getfixturevalue("postgres_url")
    schema = f"fairtel_test_{uuid.uuid4().hex[:16]}"
    admin = create_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        e = migrate(connect(url, schema=schema))
        import_lines(e, tmp_path, NUMBERS)
        yield e
        e.dispose()
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def keyed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The lines given a sort key, as they are made (the pseudonyms shown do not go through it)."""
    made: list[str] = []
    call = KeyedOrder.__call__

    def counted(self: KeyedOrder, value: str) -> bytes:
        made.append(value)
        return call(self, value)

    monkeypatch.setattr(KeyedOrder, "__call__", counted)
    return made


def import_lines(engine: Engine, where: Path, numbers: list[str]) -> None:
    csv = where / f"subscribers-{uuid.uuid4().hex[:8]}.csv"
    csv.write_text("msisdn,customer_id,plan_id,activated_at,status,language,region\n" + "".join(
        f"{m},cust-{m},payg,2024-01-01T00:00:00+08:00,active,en,\n" for m in numbers), encoding="utf-8")
    with engine.begin() as conn:
        assert import_subscribers(conn, csv).accepted == len(numbers)


def page(engine: Engine, key: str, *, role: Role = Role.ANALYST, request_id: str | None = None,
         **query: Any) -> Page[SubscriberOut]:
    acc = Access(principal=Principal(f"{role.value}-1", role), pseudonyms=Pseudonyms(key), begin=engine.begin,
                 request_id=request_id or uuid.uuid4().hex)
    try:
        out = list_subscribers(acc, **query)
    except BaseException as exc:
        acc.end(exc)
        raise
    acc.end()
    return out


def walk(engine: Engine, key: str, keyed: list[str], *, limit: int,
         cursor: str | None = None) -> tuple[list[str], list[int], list[str]]:
    """Every page from ``cursor`` on: the items, the keys each page made, and each page's request id."""
    seen: list[str] = []
    costs: list[int] = []
    requests: list[str] = []
    while True:
        before = len(keyed)
        requests.append(uuid.uuid4().hex)
        p = page(engine, key, limit=limit, cursor=cursor, request_id=requests[-1])
        costs.append(len(keyed) - before)
        seen += [s.msisdn for s in p.items]
        if p.next_cursor is None:
            return seen, costs, requests
        cursor = p.next_cursor


def stored_keys(engine: Engine) -> dict[str, bytes | None]:
    t = table_of(Subscriber)
    with engine.connect() as conn:
        return {r.msisdn: None if r.pseudonym_order is None else bytes(r.pseudonym_order)
                for r in conn.execute(select(t.c.msisdn, t.c.pseudonym_order))}


def in_keyed_order(key: str, numbers: list[str]) -> list[str]:
    """The pseudonyms of ``numbers``, in the list's keyed order under ``key``."""
    p = Pseudonymizer(key)
    return [p(m) for m in sorted(numbers, key=p.order)]


def test_the_list_is_in_a_keyed_order_neither_the_numbers_nor_the_pseudonyms(engine: Engine, keyed: list[str]) -> None:
    pseudonym = Pseudonymizer(KEY)
    seen, costs, _ = walk(engine, KEY, keyed, limit=25)
    assert seen == in_keyed_order(KEY, NUMBERS)
    assert seen != sorted(seen) and seen != [pseudonym(m) for m in NUMBERS]
    # the first list keys the lines it has never met; each later page makes none, whatever the register's size
    assert costs[0] == len(NUMBERS) and costs[1:] == [0] * (len(costs) - 1)
    again, costs, _ = walk(engine, KEY, keyed, limit=25)
    assert again == seen and costs == [0] * len(costs)
    assert stored_keys(engine) == {m: Pseudonymizer(KEY).order(m) for m in NUMBERS}


def test_no_stored_sort_key_reveals_a_pseudonym(engine: Engine, keyed: list[str]) -> None:
    walk(engine, KEY, keyed, limit=500)
    p = Pseudonymizer(KEY)
    digests = {m: p.digest(m) for m in NUMBERS}
    heads = {d[:8] for d in digests.values()}
    pseudonyms = {p(m) for m in NUMBERS}
    alphabet = "0123456789abcdefghjkmnpqrstvwxyz"

    def cut(b: bytes) -> str:  # a pseudonym as it is cut from a digest
        n = int.from_bytes(b[:13], "big") >> 4
        return "p" + "".join(alphabet[(n >> (5 * i)) & 31] for i in reversed(range(20)))

    for m, key in stored_keys(engine).items():
        assert key is not None
        for start in range(len(key) - 7):  # no 8 bytes of any line's digest, wherever they stand
            assert key[start:start + 8] not in heads
            assert cut(key[start:]) not in pseudonyms
        assert not digests[m].startswith(key[4:]) and key != digests[m][: len(key)]


def test_a_page_is_audited_in_the_pseudonyms_order_not_its_own(engine: Engine, keyed: list[str]) -> None:
    """The audit's rows follow the order they were written in; a copy of the database can sort the lines by their
    stored keys as the list does, so rows in the page's order would pair each pseudonym with its line."""
    seen, _, requests = walk(engine, KEY, keyed, limit=40)
    t = table_of(AccessAudit)
    with engine.connect() as conn:
        rows = conn.execute(select(t.c.request_id, t.c.subject_msisdn_pseudonym).where(t.c.action == "subscriber.list")
                            .order_by(t.c.audit_id)).all()
    by_request: dict[str, list[str]] = {}
    for r in rows:
        by_request.setdefault(r.request_id, []).append(r.subject_msisdn_pseudonym)
    pages = [seen[i:i + 40] for i in range(0, len(seen), 40)]
    assert [by_request[r] for r in requests] == [sorted(p) for p in pages]
    assert any(sorted(p) != p for p in pages)  # so the test tells the two orders apart


def test_a_line_added_between_pages_is_keyed_once_and_paging_neither_skips_nor_repeats(
        engine: Engine, tmp_path: Path, keyed: list[str]) -> None:
    order = Pseudonymizer(KEY).order
    first = page(engine, KEY, limit=100)
    shown = [s.msisdn for s in first.items]
    assert shown == in_keyed_order(KEY, NUMBERS)[:100]
    import_lines(engine, tmp_path, LATE)
    before = len(keyed)
    rest, costs, _ = walk(engine, KEY, keyed, limit=100, cursor=first.next_cursor)
    assert sorted(keyed[before:]) == sorted(LATE)  # each new line keyed once, by the first page that met it
    assert costs[0] == len(LATE) and costs[1:] == [0] * (len(costs) - 1)
    assert not set(shown) & set(rest)
    # the lines listed before stay where they were; the new ones take their places, those past the cursor listed
    everyone = in_keyed_order(KEY, NUMBERS + LATE)
    last = order(next(m for m in NUMBERS if Pseudonymizer(KEY)(m) == shown[-1]))
    assert rest == everyone[everyone.index(shown[-1]) + 1:]
    assert any(order(m) < last for m in LATE) and any(order(m) > last for m in LATE)
    assert [s.msisdn for s in page(engine, KEY, limit=500, status="active").items] == everyone


def test_a_replaced_secret_keys_the_register_again_and_refuses_the_cursors_of_the_old_order(
        engine: Engine, keyed: list[str]) -> None:
    cursor = page(engine, KEY, limit=100).next_cursor
    seen, costs, _ = walk(engine, OTHER_KEY, keyed, limit=100)
    assert seen == in_keyed_order(OTHER_KEY, NUMBERS)
    assert costs[0] == len(NUMBERS) and costs[1:] == [0] * (len(costs) - 1)
    order = Pseudonymizer(OTHER_KEY).order
    assert stored_keys(engine) == {m: order(m) for m in NUMBERS}
    assert Pseudonymizer(KEY).order.tag != order.tag
    with pytest.raises(InvalidInputError) as refused:
        page(engine, OTHER_KEY, limit=100, cursor=cursor)
    assert refused.value.problems[0].field == "cursor"
    # an agent's list, masked, is in the same (new) order
    agent = [s.msisdn for s in page(engine, OTHER_KEY, role=Role.AGENT, limit=500).items]
    assert agent == [mask_msisdn(m) for m in sorted(NUMBERS, key=order)]


def test_a_cursor_of_the_list_in_pseudonym_order_is_refused(engine: Engine) -> None:
    """What the list gave out when it sorted by the digest the pseudonyms are cut from (the digest itself, or a
    stored prefix of it behind a tag): another order, whose place cannot be found in this one. The reader starts
    again from the first page."""
    p = Pseudonymizer(KEY)
    digest = p.digest(NUMBERS[41])
    for legacy in (digest, digest[:20], p.digest("#order")[:4] + digest[:16]):
        with pytest.raises(InvalidInputError) as refused:
            page(engine, KEY, limit=10, cursor=encode_after(legacy))
        assert refused.value.problems[0].field == "cursor" and "first page" in refused.value.problems[0].message


def test_the_server_keys_the_register_when_it_starts(tmp_path: Path) -> None:
    seeded: Seeded = seed(tmp_path / "home")
    try:
        t = table_of(Subscriber)
        with seeded.engine.begin() as conn:  # lines as a register of an earlier version, or another tool, left them
            conn.execute(update(t).values(pseudonym_order=None))
        assert set(stored_keys(seeded.engine).values()) == {None}
        with TestClient(create_app(seeded.settings, options=ApiOptions(rate_per_second=0))):
            keys = stored_keys(seeded.engine)
        order = Pseudonymizer(seeded.settings.secret_key.get_secret_value()).order
        assert keys == {m: order(m) for m in keys} and ALICE in keys
    finally:
        seeded.engine.dispose()
