"""A TOML syntax error met at the end of a catalog names the line, like every other catalog error."""

from __future__ import annotations

from fairtel.catalog import parse_catalog


def test_error_at_end_of_document_names_the_last_line() -> None:
    catalog, problems = parse_catalog("x = [\n", file="broken.toml")
    assert catalog is None and len(problems) == 1
    p = problems[0]
    assert p.line == 1 and p.code == "toml_syntax"
    assert "end" in p.message and "(at end of document)" not in p.message


def test_unclosed_value_on_a_later_line_and_trailing_blank_lines() -> None:
    _, problems = parse_catalog('[operator]\nname = "x"\nzones = [\n  "a",\n\n\n', file="c.toml")
    assert [p.line for p in problems] == [4]


def test_errors_with_a_position_keep_it() -> None:
    _, problems = parse_catalog("a = 1\nb = =\n", file="c.toml")
    assert [p.line for p in problems] == [2]
