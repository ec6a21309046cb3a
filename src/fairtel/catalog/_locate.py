"""Line numbers for dotted field paths of a TOML document (``plans[2].rules[0].rate`` → 57).

``tomllib`` returns values without positions, so this scanner walks the text once, tracking table headers
(``[a.b]``, ``[[a.b]]`` with their running array indices), ``key = value`` lines (dotted keys too) and the
elements of arrays and inline tables, which may span lines. It assumes the document already parsed, so it
is lenient: it only needs to find where things start, not to check them.
"""

from __future__ import annotations

import re

_BARE = re.compile(r"[A-Za-z0-9_-]+")
_SIMPLE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def key_part(key: str) -> str:
    """How a key appears in a field path: bare if it can be, quoted otherwise."""
    return key if _SIMPLE_KEY.match(key) else '"' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'


def join(path: str, key: str) -> str:
    return f"{path}.{key_part(key)}" if path else key_part(key)


def index(path: str, i: int) -> str:
    return f"{path}[{i}]"


class _Scanner:
    def __init__(self, text: str) -> None:
        self.s = text
        self.i = 0
        self.line = 1
        self.lines: dict[str, int] = {}
        self.aot: dict[str, int] = {}  # array-of-tables path → elements seen so far

    # ---- low level
    def peek(self, k: int = 0) -> str:
        j = self.i + k
        return self.s[j] if j < len(self.s) else ""

    def advance(self, n: int = 1) -> None:
        for _ in range(n):
            if self.i < len(self.s):
                if self.s[self.i] == "\n":
                    self.line += 1
                self.i += 1

    def skip_inline_space(self) -> None:
        while self.peek() in (" ", "\t"):
            self.advance()

    def skip_comment(self) -> None:
        if self.peek() == "#":
            while self.peek() not in ("\n", ""):
                self.advance()

    def skip_all_space(self) -> None:
        """Whitespace, newlines and comments (inside arrays)."""
        while True:
            c = self.peek()
            if c in (" ", "\t", "\r", "\n"):
                self.advance()
            elif c == "#":
                self.skip_comment()
            else:
                return

    def record(self, path: str, line: int) -> None:
        self.lines.setdefault(path, line)

    # ---- keys and strings
    def string(self) -> str:
        q = self.peek()
        if self.s.startswith(q * 3, self.i):
            self.advance(3)
            start = self.i
            end = self.s.find(q * 3, self.i)
            end = len(self.s) if end < 0 else end
            while end + 3 < len(self.s) and self.s[end + 3] == q:  # up to two quotes may end the content
                end += 1
            self.advance(end - start + 3)
            return self.s[start:end]
        self.advance()
        out: list[str] = []
        while self.peek() not in (q, "\n", ""):
            if q == '"' and self.peek() == "\\":
                self.advance()
                out.append(self.peek())
                self.advance()
            else:
                out.append(self.peek())
                self.advance()
        self.advance()
        return "".join(out)

    def key(self) -> list[str]:
        parts: list[str] = []
        while True:
            self.skip_inline_space()
            c = self.peek()
            if c in ('"', "'"):
                parts.append(self.string())
            else:
                m = _BARE.match(self.s, self.i)
                if not m:
                    break
                parts.append(m.group(0))
                self.advance(m.end() - self.i)
            self.skip_inline_space()
            if self.peek() == ".":
                self.advance()
                continue
            break
        return parts

    # ---- values
    def value(self, path: str) -> None:
        c = self.peek()
        if c == "[":
            self.advance()
            n = 0
            while True:
                self.skip_all_space()
                if self.peek() in ("]", ""):
                    self.advance()
                    return
                here = index(path, n)
                self.record(here, self.line)
                before = self.i
                self.value(here)
                if self.i == before:  # malformed: never loop on the same character
                    self.advance()
                n += 1
                self.skip_all_space()
                if self.peek() == ",":
                    self.advance()
        elif c == "{":
            self.advance()
            while True:
                self.skip_all_space()
                if self.peek() in ("}", ""):
                    self.advance()
                    return
                before = self.i
                self.key_value(path)
                if self.i == before:
                    self.advance()
                self.skip_all_space()
                if self.peek() == ",":
                    self.advance()
        elif c in ('"', "'"):
            self.string()
        else:
            while self.peek() not in (",", "]", "}", "\n", "#", ""):
                self.advance()

    def key_value(self, table: str) -> None:
        line = self.line
        parts = self.key()
        path = table
        for part in parts:
            path = join(path, part)
            self.record(path, line)
        self.skip_inline_space()
        if self.peek() == "=":
            self.advance()
            self.skip_inline_space()
            self.value(path)

    # ---- headers
    def header(self) -> str:
        line = self.line
        array = self.s.startswith("[[", self.i)
        self.advance(2 if array else 1)
        parts = self.key()
        while self.peek() not in ("]", "\n", ""):
            self.advance()
        self.advance(2 if array else 1)
        path = ""
        for n, part in enumerate(parts):
            path = join(path, part)
            last = n == len(parts) - 1
            if array and last:
                count = self.aot.get(path, 0)
                self.aot[path] = count + 1
                self.record(path, line)
                path = index(path, count)
            elif path in self.aot:
                path = index(path, self.aot[path] - 1)
            self.record(path, line)
        return path

    def run(self) -> dict[str, int]:
        table = ""
        while self.i < len(self.s):
            self.skip_all_space()
            c = self.peek()
            if c == "":
                break
            if c == "[":
                table = self.header()
            else:
                self.key_value(table)
            self.skip_inline_space()
            self.skip_comment()
            # anything left on the line (malformed input) is skipped
            while self.peek() not in ("\n", ""):
                self.advance()
        return self.lines


def locate(text: str) -> dict[str, int]:
    """Every field path in ``text`` mapped to the 1-based line where it starts."""
    return _Scanner(text).run()


def line_of(lines: dict[str, int], path: str) -> int | None:
    """The line of ``path``, or of its nearest ancestor that appears in the text (for a missing key)."""
    p = path
    while p:
        if p in lines:
            return lines[p]
        cut = max(p.rfind("."), p.rfind("["))
        p = p[:cut] if cut > 0 else ""
    return None
