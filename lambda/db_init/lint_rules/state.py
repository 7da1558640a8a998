"""What the rules know while linting: the migration set so far and the file being linted."""

from __future__ import annotations

from dataclasses import dataclass, field

from pglast import ast


@dataclass(frozen=True)
class Hit:
    """One rule hit: the statement (index in its file) it belongs to and where it starts."""

    statement: int
    line: int
    column: int
    rule: str
    what: str


@dataclass
class SetState:
    """What earlier files of the migration set established."""

    column_types: dict[tuple[str, str], ast.TypeName] = field(default_factory=dict)
    not_null_checks: dict[tuple[str, str], str] = field(default_factory=dict)  # (table, con) -> col
    validated_not_null: set[tuple[str, str]] = field(default_factory=set)  # (table, column)
    # Objects created by files pending in this run: nothing on them is "existing".
    created_in_run: set[str] = field(default_factory=set)


@dataclass
class Scope:
    """The file being linted: its mode, the PostgreSQL version, what it created so far."""

    state: SetState
    transactional: bool
    pg_version: int
    statement: int = 0
    line: int = 1
    column: int = 1
    created: set[str] = field(default_factory=set)  # relation keys, "schema:x", "type:s.x"
    not_valid_here: set[tuple[str, str]] = field(default_factory=set)  # (table, constraint)
    views: set[str] = field(default_factory=set)  # relation keys of views created here
    renames: list[tuple[str, Hit]] = field(default_factory=list)  # (old key, its hit)
    # An existing table this file's transaction holds ACCESS EXCLUSIVE on, until it commits.
    locked: str | None = None

    def lock(self, table: str, shown: str) -> None:
        """Remember the first existing table the transaction locks against every reader."""
        if self.transactional and self.locked is None and not self.is_new(table):
            self.locked = shown

    def is_new(self, object_key: str) -> bool:
        """Whether this file or a file pending in the same run created the object."""
        return object_key in self.created or object_key in self.state.created_in_run

    def hit(self, rule: str, what: str) -> Hit:
        """A hit of `rule` at the current statement."""
        return Hit(self.statement, self.line, self.column, rule, what)
