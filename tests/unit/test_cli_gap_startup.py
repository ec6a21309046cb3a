"""The command line starts without importing what its command does not use: ``fairtel --help`` and a command's own
help import no data library (Polars, PyArrow, DuckDB, SQLAlchemy, pydantic...) and no other command's module, and
every command's help reads exactly as it did when every module was imported at start-up."""

from __future__ import annotations

import hashlib
import importlib
import os
import subprocess
import sys
from typing import Any

import pytest
import typer
import typer.main
from typer.testing import CliRunner

import fairtel.cli as cli

HEAVY = ("polars", "pyarrow", "duckdb", "sqlalchemy", "alembic", "pydantic", "numpy", "sklearn", "jieba", "fastapi",
         "fairtel.bootstrap", "fairtel.store", "fairtel.core.settings")

# Groups whose modules other parts of the tree own (their help may change with them): left out of the fixture below.
OWNED_ELSEWHERE = {"serve", "users", "home", "backup", "privacy"}

# sha256 (first 16 hex digits) of ``fairtel <path> --help`` at 100 columns, taken when every command module was
# imported at start-up: the help each command shows must not change with when its module is imported.
HELP_SHA256: dict[str, str] = {
    'demo': 'f8579ecd78ba4575',
    'synth': '29adf1280fff2554',
    'load': '1bb41424e602fb29',
    'ingest': '151f33263ac938d7',
    'watch': '5fbc988af86fa4bf',
    'rate': '912fb222da68c389',
    'quote': '57fe7bc2b1e00c4f',
    'explain': '4c09ca86bbccc499',
    'rerate': 'ffd93fc98393362b',
    'assure': '56ea3f63cd9e98d7',
    'advise': 'fa1145f47f5df438',
    'catalog': '610b40c3b8e9ce1f',
    'catalog validate': '35a7e60576080bf5',
    'catalog show': '5642e27d1ceb0a1a',
    'catalog import-cgrates': 'a0374f7214e13238',
    'bill': 'f76f92476a952efc',
    'bill statement': 'ce3387a98eb1a65b',
    'bill reconcile': 'd5ce089611793527',
    'bill held': 'ba46d44462ea0549',
    'bill release': '2ccf67096dedbcb8',
    'merchants': '9789556eae38daa4',
    'merchants suspend': '87f7e591adaed4c9',
    'merchants lift': '57672121e691923e',
    'merchants list': 'a6c7ae8c28375e92',
    'consent': '4762630216504db0',
    'consent check': 'c8fa4de1c39f34d5',
    'consent state': 'cb3dea337b2259d1',
    'fraud': 'def0a4816af5c423',
    'fraud train': '055f13c8bf7fa278',
    'fraud evaluate': 'a62f3058f4afa1b5',
    'fraud cv': 'f1d1133488e1de7d',
    'fraud features': '1eb17eb19f73386b',
    'fraud score': 'c54ac6e62cf99c05',
    'fraud detect': 'c80fc3fc29e62405',
    'fraud cases': '30155378195b61f7',
    'fraud decide': '700cde6451f1f08b',
    'churn': '5356c7c08ee0ba6c',
    'churn train': '70c8d3f66d13d2d0',
    'churn evaluate': '2f2e0a5c42d9b9ac',
    'churn cv': '558f716ae0891c1c',
    'churn warn': '6a94f551de973fe1',
    'churn retention': 'fd22eba28f802f87',
    'churn score': 'b77f004cff32f598',
    'assistant': 'f16d20e29a02049f',
    'assistant train': 'f299c908332fed3f',
    'assistant evaluate': 'de0d077c8c6f3a06',
    'assistant chat': 'cfe705a5fad4313f',
    'care': '4a07b3564d108280',
    'care complaints': '7a519437317c01cf',
    'care complain': 'eb9880d736bf7983',
    'care close': '3dc5a3e5e937a2c9',
    'care survey': '92896bb9389317be',
    'care import-complaints': '97b15d224572ad4c',
    'care import-surveys': '9b65cc25a1a2549a',
    'care complaint-ack': '9f91fe0cc973e74f',
    'care complaint-resolve': '4bacd0a2ada1d001',
    'care complaint-close': 'eb32be9e98d3f2ff',
    'care complaint-reopen': '8ca4ff9301f778c3',
    'care complaint-history': '3bdcf5d12716534c',
    'care escalate': 'd7ce0d9a3eaca686',
    'care detractors': '89bd78fbf9eb3d00',
    'care surveys-due': 'c15515301958d6f3',
    'kpi': '8b2d879a4afc9382',  # its --period now names both forms it takes (YYYY-MM or YYYYMM)
    'kpi complaints': '639f98dd00e5824d',
    'retention': '44d44e18f1b5b19f',  # "[retention] settings" was read as markup: "( settings)"
    'retention plan': 'cd1d81914aaed947',
    'retention apply': '114ea35987e1b358',
}


def _help(args: list[str]) -> str:
    result = CliRunner().invoke(cli.app, [*args, "--help"], env={"COLUMNS": "100"})
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("path", sorted(HELP_SHA256), ids=lambda p: p or "fairtel")
def test_every_command_help_reads_as_before(path: str) -> None:
    text = _help(path.split())
    assert hashlib.sha256(text.encode()).hexdigest()[:16] == HELP_SHA256[path], text


def _paths() -> list[str]:
    found: list[str] = []

    def walk(cmd: Any, path: tuple[str, ...]) -> None:
        if hasattr(cmd, "commands"):
            for name, sub in cmd.commands.items():
                found.append(" ".join((*path, name)))
                walk(sub, (*path, name))

    walk(typer.main.get_command(cli.app), ())
    return found


def test_the_fixture_covers_every_command_but_those_owned_elsewhere() -> None:
    assert sorted(p for p in _paths() if p.split()[0] not in OWNED_ELSEWHERE) == sorted(HELP_SHA256)


def _eager_app() -> typer.Typer:
    """The root as it was: every module registering its commands on one app."""
    eager = typer.Typer(name="fairtel", help=cli.app.info.help, no_args_is_help=True, add_completion=False,
                        pretty_exceptions_enable=False)
    eager.callback()(cli._root)
    for module in cli.MODULES:
        importlib.import_module(f"fairtel.cli.{module}").register(eager)
    return eager


def test_the_root_help_lists_what_the_modules_register() -> None:
    lazy = _help([])
    eager = CliRunner().invoke(_eager_app(), ["--help"], env={"COLUMNS": "100"})
    assert eager.exit_code == 0, eager.output
    assert lazy == eager.output
    registered = {name: command for name, command in typer.main.get_group(_eager_app()).commands.items()}
    assert list(registered) == list(cli.COMMANDS)


def _fresh(args: list[str]) -> tuple[str, set[str]]:
    """What ``fairtel ARGS`` prints at 100 columns in a fresh interpreter, and the modules it imported."""
    code = (
        "import sys\n"
        f"sys.argv = ['fairtel', *{args!r}]\n"
        "from fairtel.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print(' '.join(sorted(sys.modules)), file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True,
                          env={**os.environ, "COLUMNS": "100"})
    return done.stdout, set(done.stderr.splitlines()[-1].split())


def test_the_root_help_imports_no_data_library_and_no_command_module() -> None:
    shown, loaded = _fresh(["--help"])
    assert not [m for m in HEAVY if m in loaded]
    assert not [m for m in loaded if m.startswith("fairtel.cli._") and m != "fairtel.cli._ui"]
    # the same help as in a process where every command module is imported (a flag shows no value: ``_ui``)
    eager = CliRunner().invoke(_eager_app(), ["--help"], env={"COLUMNS": "100"})
    assert shown == eager.output
    assert "<bool>" not in shown


def test_a_command_imports_its_own_module_only() -> None:
    shown, loaded = _fresh(["kpi", "--help"])
    assert shown == _help(["kpi"])
    assert "fairtel.cli._kpi" in loaded
    # typer reads a command's parameters through pydantic when it is installed: not the project's import
    assert not [m for m in HEAVY if m in loaded and m != "pydantic"]
    assert not {"fairtel.cli._billing", "fairtel.cli._assure", "fairtel.cli._load", "fairtel.cli._fraud"} & loaded


def test_an_unknown_command_is_refused_with_the_nearest_names() -> None:
    result = CliRunner().invoke(cli.app, ["bil"])
    assert result.exit_code == 2
    assert "No such command 'bil'" in result.output and "'bill'" in result.output


def test_a_command_runs_through_the_lazy_root() -> None:
    result = CliRunner().invoke(cli.app, ["--version"])
    assert result.exit_code == 0 and result.output.startswith("fairtel ")
    result = CliRunner().invoke(cli.app, ["kpi", "complaints"])  # its own option is still required
    assert result.exit_code == 2 and "--period" in result.output
