"""Short diffs of two object definitions: the changed words in one line, or changed lines."""

from __future__ import annotations

import difflib

_CONTEXT_WORDS = 2
_MAX_LINES = 24


def changed_words(expected: str, live: str) -> list[tuple[str, str]]:
    """Each changed stretch of words as (expected, live), with a few words of context."""
    old, new = expected.split(), live.split()
    hunks: list[tuple[str, str]] = []
    matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    for group in matcher.get_grouped_opcodes(_CONTEXT_WORDS):
        first, last = group[0], group[-1]
        hunks.append(
            (
                _clip(old, first[1], last[2], len(old)),
                _clip(new, first[3], last[4], len(new)),
            )
        )
    return hunks


def one_line(expected: str, live: str) -> str:
    """`expected X, live Y` for the first change, and how many other changes there are."""
    hunks = changed_words(expected, live)
    if not hunks:
        return "differs only in layout"
    want, have = hunks[0]
    more = f" (+{len(hunks) - 1} more change(s))" if len(hunks) > 1 else ""
    return f"expected {want}, live {have}{more}"


def lines(expected: str, live: str) -> list[str]:
    """A unified diff of the two texts (multi-line texts by line, others by changed words)."""
    if "\n" not in expected and "\n" not in live:
        out: list[str] = []
        for want, have in changed_words(expected, live):
            out += [f"- {want}", f"+ {have}"]
        return out
    diff = difflib.unified_diff(expected.splitlines(), live.splitlines(), lineterm="", n=1)
    body = [line for line in diff if not line.startswith(("---", "+++"))]
    if len(body) > _MAX_LINES:
        rest = len(body) - _MAX_LINES
        body = [*body[:_MAX_LINES], f"... {rest} more diff line(s); --json has both texts"]
    return body


def _clip(words: list[str], start: int, end: int, total: int) -> str:
    text = " ".join(words[start:end]) or "(nothing)"
    return ("... " if start > 0 else "") + text + (" ..." if end < total else "")
