"""Statement splitter speed: the new splitter vs the previous one, same input, one run.

The previous splitter (commit cf4e3ac, lambda/db_init/scripts.py) is kept below, verbatim but
renamed, only for this comparison. Input: the repository's sql/, the splitter test cases, a
pg_dump-style seed of 20,000 INSERT rows, and a file of 400 PL/pgSQL functions. Statements per
second use the new splitter's (correct) count for both, so the figures compare the same work.
Prints `RATIO` (old time / new time: above 1 means the new one is faster).
"""

from __future__ import annotations

import re
import statistics
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from db_init.errors import ScriptError
from db_init.splitter import Statement, split_statements

REPO = Path(__file__).resolve().parents[1]
ROUNDS = 31

# --- the previous splitter, for comparison only ---------------------------------------------
_DOLLAR_TAG = re.compile(r"\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$")
_WORD = re.compile(r"[A-Za-z_]+")
_SPECIAL = re.compile(r"--|/\*|[;'\"$]")


def old_split_statements(text: str, path: Path) -> Iterator[Statement]:
    """Split SQL on top-level semicolons, honouring quotes, dollar quotes and comments."""
    i, n = 0, len(text)
    start: int | None = None  # index of the first significant character of the statement
    masked: list[str] = []  # the statement's code with strings and comments blanked out
    while True:
        special = _SPECIAL.search(text, i)
        end = special.start() if special else n
        segment = text[i:end]
        if start is None and segment.strip():
            start = i + len(segment) - len(segment.lstrip())
        masked.append(segment)
        if special is None:
            break
        mark, i = special.group(), end
        if mark == "--":
            newline = text.find("\n", i)
            i = n if newline < 0 else newline
            continue
        if mark == "/*":
            i = _skip_block_comment(text, i, path)
            masked.append(" ")
            continue
        if mark == ";":
            if start is not None:
                yield _statement(text, start, i, masked)
            start, masked = None, []
            i += 1
            continue
        if start is None:
            start = i
        i, mask = _skip_literal(text, i, mark, path)
        masked.append(mask)
    if start is not None:
        yield _statement(text, start, n, masked)


def _skip_literal(text: str, i: int, mark: str, path: Path) -> tuple[int, str]:
    """Past the quoted string, identifier or dollar-quoted body at i; and what masks it."""
    if mark == "'":
        backslash_escapes = i > 0 and text[i - 1] in "eE" and not _is_word_char(text, i - 2)
        return _skip_quoted(text, i, "'", path, backslash_escapes=backslash_escapes), " '' "
    if mark == '"':
        return _skip_quoted(text, i, '"', path, backslash_escapes=False), ' "" '
    # "$": a dollar quote, or part of a name / positional parameter
    tag = None if _is_word_char(text, i - 1) else _DOLLAR_TAG.match(text, i)
    if tag is None:
        return i + 1, "$"
    close = text.find(tag.group(), tag.end())
    if close < 0:
        raise ScriptError(f"{path}:{_line(text, i)}: unterminated {tag.group()} quote")
    return close + len(tag.group()), " $$ "


def _statement(text: str, start: int, end: int, masked: list[str]) -> Statement:
    words = tuple(w.upper() for w in _WORD.findall("".join(masked)))
    return Statement(sql=text[start:end].rstrip(), line=_line(text, start), words=words)


def _skip_block_comment(text: str, i: int, path: Path) -> int:
    depth, j = 0, i
    while j < len(text):
        if text.startswith("/*", j):
            depth, j = depth + 1, j + 2
        elif text.startswith("*/", j):
            depth, j = depth - 1, j + 2
            if depth == 0:
                return j
        else:
            j += 1
    raise ScriptError(f"{path}:{_line(text, i)}: unterminated /* comment")


def _skip_quoted(text: str, i: int, quote: str, path: Path, *, backslash_escapes: bool) -> int:
    j = i + 1
    while j < len(text):
        ch = text[j]
        if backslash_escapes and ch == "\\":
            j += 2
            continue
        if ch == quote:
            if text.startswith(quote, j + 1):  # doubled quote is an escaped quote
                j += 2
                continue
            return j + 1
        j += 1
    raise ScriptError(f"{path}:{_line(text, i)}: unterminated {quote} quote")


def _is_word_char(text: str, i: int) -> bool:
    return i >= 0 and (text[i].isalnum() or text[i] == "_")


def _line(text: str, index: int) -> int:
    return text.count("\n", 0, index) + 1


# --- the input and the measurement ------------------------------------------------------------
def corpus() -> dict[str, dict[str, str]]:
    """Groups of named SQL texts, every one valid to both splitters (no psql-only input)."""
    small = {
        p.name: p.read_text()
        for p in sorted((REPO / "sql").rglob("*.sql"))
        + sorted((REPO / "tests" / "unit" / "splitter_cases").glob("*.sql"))
    }
    rows = "\n".join(
        f"INSERT INTO orders (id, tenant, note, total) VALUES ({n}, 'tenant-{n % 97}', "
        f"'order #{n}; it''s fine', {n * 1.25:.2f});"
        for n in range(20_000)
    )
    functions = "\n\n".join(
        f"CREATE OR REPLACE FUNCTION f{n}(p bigint) RETURNS bigint LANGUAGE plpgsql AS $fn$\n"
        "DECLARE\n    total bigint := 0; -- running sum\nBEGIN\n"
        "    SELECT count(*) INTO total FROM orders WHERE id > p;\n"
        "    IF total < 0 THEN RAISE EXCEPTION 'negative; %', total; END IF;\n"
        "    RETURN total;\nEND\n$fn$;\n"
        f"COMMENT ON FUNCTION f{n}(bigint) IS 'function {n}; generated';"
        for n in range(400)
    )
    return {
        "sql/ + splitter test cases (small files)": small,
        "one seed of 20,000 INSERT rows (2 MB)": {"seed.sql": "-- generated seed\n" + rows},
        "400 PL/pgSQL functions + comments": {"functions.sql": functions},
    }


def seconds(split: Callable[[str, Path], Iterator[Statement]], texts: dict[str, str]) -> float:
    """CPU time of one pass over every text."""
    # Splitting is pure CPU: process time leaves out the other processes of a shared machine.
    started = time.process_time()
    for name, text in texts.items():
        for _ in split(text, Path(name)):
            pass
    return time.process_time() - started


def compare(label: str, texts: dict[str, str]) -> None:
    """Interleaved rounds of old and new over the same texts; medians and their ratio."""
    statements = sum(len(list(split_statements(t, Path(n)))) for n, t in texts.items())
    size = sum(len(t.encode()) for t in texts.values())
    rounds = ROUNDS if size < 200_000 else 3  # the previous splitter is quadratic in file size
    old_times, new_times = [], []
    for _ in range(rounds):
        old_times.append(seconds(old_split_statements, texts))
        new_times.append(seconds(split_statements, texts))
    old, new = statistics.median(old_times), statistics.median(new_times)
    print(f"== {label}: {len(texts)} file(s), {size / 1e6:.2f} MB, {statements} statements")
    print(f"   previous splitter: {old * 1000:9.1f} ms  {statements / old:12,.0f} statements/s")
    print(f"   new splitter:      {new * 1000:9.1f} ms  {statements / new:12,.0f} statements/s")
    print(f"RATIO {label}: new is {old / new:.2f}x the speed of the previous splitter")


def main() -> None:
    """Every group, in one run."""
    for label, texts in corpus().items():
        compare(label, texts)


if __name__ == "__main__":
    main()
