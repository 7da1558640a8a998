"""Splitting SQL text into statements by the rules of PostgreSQL's lexer and psql, with lines."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from db_init.errors import ScriptError

BOM = "\ufeff"
# What interrupts plain code: comments, literals, statement ends and psql's backslash.
_SPECIAL = re.compile(r"--|/\*|[;'\"$\\]")
# PostgreSQL's identifiers: ASCII letters, `_` and any character >= 0x80 first, then digits too,
# and `$` in names (not in dollar-quote tags). Written as
# negated ASCII classes: a class spelled up to U+10FFFF costs ~10 ms to compile per pattern, and
# this module is imported on every Lambda cold start.
_IDENT_START = r"[^\x00-\x40\x5b-\x5e\x60\x7b-\x7f]"
_IDENT_PART = r"[^\x00-\x23\x25-\x2f\x3a-\x40\x5b-\x5e\x60\x7b-\x7f]"  # with $
_TAG_PART = r"[^\x00-\x2f\x3a-\x40\x5b-\x5e\x60\x7b-\x7f]"  # without $
_WORD = re.compile(_IDENT_START + _IDENT_PART + "*")
_DOLLAR_TAG = re.compile(r"\$(?:" + _IDENT_START + _TAG_PART + r"*)?\$")
_PLAIN_STRING = re.compile(r"'[^']*(?:''[^']*)*'")
_ESCAPE_STRING = re.compile(r"'[^'\\]*(?:(?:\\.|'')[^'\\]*)*'", re.DOTALL)
_QUOTED_NAME = re.compile(r'"[^"]*(?:""[^"]*)*"')
_COMMENT_EDGE = re.compile(r"/\*|\*/")
_NEWLINE = re.compile(r"[\r\n]")  # a -- comment ends at either, as in PostgreSQL's lexer
_SPACE = " \t\n\r\f\v"  # PostgreSQL's whitespace (a no-break space is a letter to it)
_PARENS = re.compile(r"[()]")
_BODY_TOKEN = re.compile(r"[()]|" + _WORD.pattern)
_COPY_END = re.compile(r"^\\\.\r?$", re.MULTILINE)
_META_COMMAND = re.compile(r"\\[^\s\\;]*")
_SCS_SETTING = re.compile(
    r"(?:SET\s+(?:SESSION\s+|LOCAL\s+)?standard_conforming_strings\s*(?:=|\bTO\b)\s*"
    r"(?P<value>'[^']*'|\"[^\"]*\"|[\w.]+)"
    r"|RESET\s+(?P<reset>standard_conforming_strings|ALL))\s*$",
    re.IGNORECASE,
)
_ROUTINE_HEAD = {("CREATE", "FUNCTION"), ("CREATE", "PROCEDURE")}
_ROUTINE_REPLACE_HEAD = {
    ("CREATE", "OR", "REPLACE", "FUNCTION"),
    ("CREATE", "OR", "REPLACE", "PROCEDURE"),
}


@dataclass(frozen=True)
class Statement:
    """One SQL statement and the 1-based line of the file where it starts."""

    sql: str
    line: int
    words: tuple[str, ...]  # upper-case keywords and names outside strings and comments
    copy_data: str | None = None  # the rows after `COPY ... FROM stdin;`, up to `\.`
    copy_line: int = 0  # file line of the first data row

    @property
    def copies_from_stdin(self) -> bool:
        """COPY ... FROM STDIN: its rows come from the file (psql style), not the server."""
        if not self.words or self.words[0] != "COPY" or "FROM" not in self.words:
            return False
        after = self.words.index("FROM") + 1
        return after < len(self.words) and self.words[after] == "STDIN"


def split_statements(text: str, path: Path) -> Iterator[Statement]:
    """Statements where psql would send them; COPY FROM stdin rows go with their COPY."""
    # A statement ends at a `;` outside literals, comments, parentheses and the BEGIN ... END
    # body of CREATE FUNCTION/PROCEDURE.
    return _Splitter(text, path).statements()


class _Splitter:
    """One pass over one file; state for the statement being read."""

    def __init__(self, text: str, path: Path) -> None:
        # A byte-order mark is not SQL; removing it keeps every offset's line the same.
        self.text = text[1:] if text.startswith(BOM) else text
        self.path = path
        self.standard_strings = True  # standard_conforming_strings, as the file sets it
        self.scs_line = 0
        self._line_index = 0
        self._line_count = 1

    def line(self, index: int) -> int:
        """1-based line of `index`; offsets are asked for in increasing order, so count onwards."""
        if index < self._line_index:
            self._line_index, self._line_count = 0, 1
        self._line_count += self.text.count("\n", self._line_index, index)
        self._line_index = index
        return self._line_count

    def statements(self) -> Iterator[Statement]:  # noqa: PLR0912, PLR0915 - one hot loop, one frame
        """Every statement in order."""
        text, n = self.text, len(self.text)
        search = _SPECIAL.search
        carriage_returns = "\r" in text
        i = 0
        start: int | None = None  # first significant character of the statement
        masked: list[str] = []  # the statement's code with literals and comments blanked out
        while True:
            special = search(text, i)
            end = special.start() if special else n
            if end > i:
                segment = text[i:end]
                if start is None:
                    stripped = segment.lstrip(_SPACE)
                    if stripped:
                        start = end - len(stripped)
                masked.append(segment)
            if special is None:
                break
            mark, i = special.group(), end
            if mark == "--":
                if carriage_returns:
                    newline = _NEWLINE.search(text, i)
                    i = newline.start() if newline else n
                else:
                    i = text.find("\n", i)
                    i = n if i < 0 else i
            elif mark == "/*":
                i = self._skip_block_comment(i)
                masked.append(" ")
            elif mark == ";":
                i += 1
                if start is None:
                    continue
                code = "".join(masked)  # literals and comments blanked: its parentheses are real
                if "(" in code and _paren_depth(code):
                    masked.append(";")
                    continue
                words = tuple(_WORD.findall(code.upper()))
                if words and words[0] == "CREATE" and _inside_routine_body(words, code):
                    masked.append(";")
                    continue
                statement = self._statement(start, end, words)
                if statement.copies_from_stdin:
                    statement, i = self._with_copy_data(statement, i)
                yield statement
                start, masked = None, []
            elif mark == "\\":
                command = _META_COMMAND.match(text, i)
                raise ScriptError(_meta_command_refusal(self.path, self.line(i), command))
            else:
                if start is None:
                    start = i
                i = self._skip_literal(i, mark, masked)
        if start is not None:
            words = tuple(_WORD.findall("".join(masked).upper()))
            statement = self._statement(start, n, words)
            if statement.copies_from_stdin:
                statement = _replace_copy(statement, "", statement.line + 1)
            yield statement
        if not self.standard_strings:
            raise ScriptError(
                f"{self.path}:{self.scs_line}: standard_conforming_strings stays off after this "
                "file; set it back on at the end of the file (every other file and the engine's "
                "own statements are read with it on)"
            )

    def _statement(self, start: int, end: int, words: tuple[str, ...]) -> Statement:
        sql = self.text[start:end].rstrip(_SPACE)
        statement = Statement(sql=sql, line=self.line(start), words=words)
        if words and words[0] in ("SET", "RESET") and "STANDARD_CONFORMING_STRINGS" in words[:3]:
            self._track_standard_strings(statement)
        elif words[:2] == ("RESET", "ALL"):
            self.standard_strings = True
        return statement

    def _track_standard_strings(self, statement: Statement) -> None:
        """psql reads later literals by the new setting; so do we."""
        setting = _SCS_SETTING.match(statement.sql)
        if setting is None:
            return  # the server will judge it; nothing we can read differently
        value = (setting["value"] or "").strip("'\"").lower()
        on = setting["reset"] is not None or value == "default" or _boolean(value)
        self.standard_strings = on
        self.scs_line = statement.line

    def _with_copy_data(self, statement: Statement, i: int) -> tuple[Statement, int]:
        """The rows psql would read after a COPY FROM stdin: the next lines, up to `\\.`."""
        text = self.text
        newline = text.find("\n", i)
        rest = text[i:] if newline < 0 else text[i:newline]
        if rest.strip() and not rest.lstrip().startswith("--"):
            raise ScriptError(
                f"{self.path}:{self.line(i)}: text after `COPY ... FROM stdin;` on the same "
                "line; put the rows on the lines after it, ended by a line `\\.`"
            )
        if newline < 0:
            return _replace_copy(statement, "", self.line(i) + 1), len(text)
        first = newline + 1
        ending = _COPY_END.search(text, first)
        stop = ending.start() if ending else len(text)
        data_line = self.line(first)
        return _replace_copy(statement, text[first:stop], data_line), (
            ending.end() if ending else len(text)
        )

    def _skip_literal(self, i: int, mark: str, masked: list[str]) -> int:
        """Past the quoted string, quoted name or dollar-quoted body at i, masking it."""
        text = self.text
        if mark == "'":
            if i > 0 and text[i - 1] in "eE" and not _is_name_char(text, i - 2):
                escapes = True  # E'...'
            elif i > 1 and text[i - 1] == "&" and text[i - 2] in "uU":
                escapes = _is_name_char(text, i - 3) and not self.standard_strings
            else:  # U&'...' never takes backslash escapes; others do when the file says so
                escapes = not self.standard_strings
            found = (_ESCAPE_STRING if escapes else _PLAIN_STRING).match(text, i)
            if found is None:
                raise ScriptError(f"{self.path}:{self.line(i)}: unterminated ' quote")
            masked.append(" '' ")
            return found.end()
        if mark == '"':
            found = _QUOTED_NAME.match(text, i)
            if found is None:
                raise ScriptError(f'{self.path}:{self.line(i)}: unterminated " quote')
            masked.append(" _ ")  # a name all the same: CLUSTER "t" names a table
            return found.end()
        # "$": part of a name (x$$y), a parameter ($1), or a dollar quote
        tag = None if _continues_name(text, i) else _DOLLAR_TAG.match(text, i)
        if tag is None:
            masked.append("$")
            return i + 1
        close = text.find(tag.group(), tag.end())
        if close < 0:
            raise ScriptError(f"{self.path}:{self.line(i)}: unterminated {tag.group()} quote")
        masked.append(" $$ ")
        return close + len(tag.group())

    def _skip_block_comment(self, i: int) -> int:
        depth = 0
        for edge in _COMMENT_EDGE.finditer(self.text, i):
            if edge.group() == "/*":
                depth += 1
            else:
                depth -= 1
                if depth == 0:
                    return edge.end()
        raise ScriptError(f"{self.path}:{self.line(i)}: unterminated /* comment")


def _replace_copy(statement: Statement, data: str, line: int) -> Statement:
    return Statement(statement.sql, statement.line, statement.words, data, line)


def _paren_depth(code: str) -> int:
    """Open parentheses at the end of `code`; a `)` at depth 0 is ignored, as psql does."""
    if ")" not in code:
        return code.count("(")
    # Matched pairs never reach below where they start: drop them, and `)))(((` remains.
    parens = "".join(_PARENS.findall(code))
    while "()" in parens:
        parens = parens.replace("()", "")
    return len(parens) - parens.count(")")


def _inside_routine_body(words: tuple[str, ...], code: str) -> bool:
    """psql's rule: BEGIN ... END of CREATE [OR REPLACE] FUNCTION/PROCEDURE holds its `;`."""
    # Counted outside parentheses only; CASE ... END nests inside a BEGIN, as psql counts it.
    if words[:2] not in _ROUTINE_HEAD and words[:4] not in _ROUTINE_REPLACE_HEAD:
        return False
    begin_depth = paren_depth = 0
    for piece in _BODY_TOKEN.findall(code):
        if piece == "(":
            paren_depth += 1
        elif piece == ")":
            paren_depth = max(0, paren_depth - 1)
        elif paren_depth == 0:
            word = piece.upper()
            if word == "BEGIN" or (word == "CASE" and begin_depth):
                begin_depth += 1
            elif word == "END" and begin_depth:
                begin_depth -= 1
    return begin_depth > 0


def _boolean(value: str) -> bool:
    """PostgreSQL's reading of a boolean setting (unique prefixes allowed); unknown reads as on."""
    if value in ("1", "0"):
        return value == "1"
    for word, meaning in (("true", True), ("false", False), ("yes", True), ("no", False)):
        if value and word.startswith(value):
            return meaning
    return not (len(value) >= 2 and "off".startswith(value))


def _is_name_char(text: str, i: int) -> bool:
    if i < 0:
        return False
    ch = text[i]
    return ch.isalnum() or ch in "_$" or ch >= "\x80"


def _continues_name(text: str, i: int) -> bool:
    """True when the `$` at i is inside a name (x$$y): a letter comes right before it."""
    # Only digits (a number, or $1) before it: the `$` starts a new token.
    j = i - 1
    while j >= 0 and _is_name_char(text, j):
        ch = text[j]
        if ch != "$" and not ch.isdigit():
            return True
        j -= 1
    return False


def _meta_command_refusal(path: Path, line: int, command: re.Match[str] | None) -> str:
    name = command.group() if command else "\\"
    advice = _META_ADVICE.get(name.lstrip("\\").lower(), "remove it or write it as SQL")
    return (
        f"{path}:{line}: `{name}` is a psql meta-command, not SQL (the engine sends each "
        f"statement to the server itself); {advice}"
    )


_META_ADVICE = {
    "set": "psql variables do not exist here: write the value into the SQL",
    "gset": "psql variables do not exist here: compute the value in the SQL (e.g. a DO block)",
    "i": "put the included statements in this file or in a migration of their own",
    "ir": "put the included statements in this file or in a migration of their own",
    "include": "put the included statements in this file or in a migration of their own",
    "c": "every file runs in the target database: remove it",
    "connect": "every file runs in the target database: remove it",
    "copy": "use `COPY ... FROM stdin;` with the rows after it in a seed file",
    ".": "a `\\.` only ends the rows of a `COPY ... FROM stdin;` in a seed file",
}


def body_offset(sql: str) -> int | None:
    """Where the code of a DO block, or of a routine's `AS` literal, starts within `sql`."""
    reader = _Splitter(sql, Path("<statement>"))
    masked: list[str] = []
    i = 0
    while (special := _SPECIAL.search(sql, i)) is not None:
        masked.append(sql[i : special.start()])
        mark, i = special.group(), special.start()
        if mark == "--":
            newline = _NEWLINE.search(sql, i)
            i = newline.start() if newline else len(sql)
            continue
        if mark == "/*":
            i = reader._skip_block_comment(i)
            masked.append(" ")
            continue
        if mark in ";\\":
            masked.append(mark)
            i += 1
            continue
        words = _WORD.findall("".join(masked))
        wanted = bool(words) and (words[0].upper() == "DO" or words[-1].upper() == "AS")
        start = i
        i = reader._skip_literal(i, mark, masked)
        if wanted and masked[-1] in (" '' ", " $$ "):
            tag = _DOLLAR_TAG.match(sql, start) if mark == "$" else None
            return tag.end() if tag else start + 1
    return None
