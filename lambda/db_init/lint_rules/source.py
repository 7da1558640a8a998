"""A migration's text as pglast sees it: statement slices, line/column positions, comments."""

from __future__ import annotations

import bisect

from pglast.parser import ParseError, scan, split


def pieces(text: str) -> tuple[list[tuple[int, str]], bool]:
    """(offset, text) of each statement and of each stretch between them; and whether it parses."""
    try:
        slices, parses = split(text, with_parser=True, only_slices=True), True
    except ParseError:  # still find the statements (and the error's line) one by one
        slices, parses = split(text, with_parser=False, only_slices=True), False
    found: list[tuple[int, str]] = []
    end = 0
    for part in slices:
        start, stop = int(part.start or 0), int(part.stop or 0)
        if start > end:
            found.append((end, text[end:start]))
        found.append((start, text[start:stop]))
        end = stop
    if end < len(text):
        found.append((end, text[end:]))
    return found, parses


def first_token(piece: str) -> str:
    """The scanner's name for the first token that is not a comment ('' for none)."""
    for token in scan(piece):
        if token.name not in ("SQL_COMMENT", "C_COMMENT"):
            return str(token.name)
    return ""


def line_comments(lines: Lines, offset: int, piece: str) -> list[tuple[int, str]]:
    """Every `--` comment of `piece` that starts its line, found by the SQL scanner."""
    comments: list[tuple[int, str]] = []
    for token in scan(piece):
        if token.name != "SQL_COMMENT":
            continue
        if not lines.starts_line(offset + token.start):
            continue  # a trailing comment after a statement is not a marker
        comments.append(
            (lines.of(offset + token.start), piece[token.start : token.end + 1].strip())
        )
    return comments


def code_start(piece: str) -> int:
    """Offset in `piece` of its first token that is not a comment (0 when none)."""
    for token in scan(piece):
        if token.name not in ("SQL_COMMENT", "C_COMMENT"):
            return int(token.start)
    return 0


class Lines:
    """Line and column numbers of character offsets, by binary search over the newlines."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.newlines: list[int] = []
        at = text.find("\n")
        while at >= 0:
            self.newlines.append(at)
            at = text.find("\n", at + 1)

    def of(self, index: int) -> int:
        """1-based line of `index`."""
        return bisect.bisect_left(self.newlines, index) + 1

    def column(self, index: int) -> int:
        """1-based column of `index` on its line."""
        line = self.of(index)
        start = self.newlines[line - 2] + 1 if line > 1 else 0
        return index - start + 1

    def starts_line(self, index: int) -> bool:
        """Whether only whitespace precedes `index` on its line."""
        return not self.text[index - self.column(index) + 1 : index].strip()
