"""The lint rules by id: what each catches and the safe way to make the same change."""

from __future__ import annotations

from dataclasses import dataclass

NON_TRANSACTIONAL_FILE = (
    "put it alone in a file whose first line is `-- shoppulse:non-transactional`"
)


@dataclass(frozen=True)
class Rule:
    """What a rule catches and how to make the same change safely."""

    summary: str
    advice: str
    allowable: bool = True  # markers and `disable` may switch it off


RULES: dict[str, Rule] = {
    # -- data loss ---------------------------------------------------------------------------
    "drop-table": Rule(
        "drops a table and every row in it",
        "stop reading and writing it in one release, back it up, drop it in a later migration",
    ),
    "drop-column": Rule(
        "drops a column and its data; running code that selects it breaks",
        "stop using the column in one release, then drop it in a later migration",
    ),
    "drop-schema": Rule(
        "drops a schema and, with CASCADE, everything in it",
        "drop the objects one by one in migrations that each say why",
    ),
    "drop-type": Rule(
        "drops a type or domain; columns using it block the drop or go with CASCADE",
        "move the columns off the type in an earlier migration first",
    ),
    "truncate": Rule(
        "deletes every row of an existing table",
        "delete the rows you mean with a WHERE clause, or archive them first",
    ),
    "delete-without-where": Rule(
        "deletes every row of an existing table",
        "add a WHERE clause naming the rows to delete",
    ),
    "update-without-where": Rule(
        "updates every row of an existing table (and locks all of them)",
        "add a WHERE clause; backfill large tables in batches",
    ),
    # -- locks and rewrites ------------------------------------------------------------------
    "alter-column-type": Rule(
        "changes a column type, which rewrites the table under an ACCESS EXCLUSIVE lock",
        "add a new column, backfill it in batches, switch readers, then drop the old one",
    ),
    "set-not-null": Rule(
        "SET NOT NULL scans the whole table under an ACCESS EXCLUSIVE lock",
        "add CHECK (col IS NOT NULL) NOT VALID in one migration, VALIDATE it in a later one, "
        "then SET NOT NULL (PostgreSQL 12+ skips the scan) and drop the check",
    ),
    "add-foreign-key": Rule(
        "adds a foreign key to an existing table, validating every row under lock",
        "add it NOT VALID, then VALIDATE CONSTRAINT in a later migration",
    ),
    "add-check": Rule(
        "adds a CHECK to an existing table, validating every row under lock",
        "add it NOT VALID, then VALIDATE CONSTRAINT in a later migration",
    ),
    "add-unique": Rule(
        "adds a UNIQUE / PRIMARY KEY constraint, building its index while blocking writes",
        "CREATE UNIQUE INDEX CONCURRENTLY in a non-transactional migration, then "
        "ADD CONSTRAINT ... USING INDEX",
    ),
    "add-exclude": Rule(
        "adds an EXCLUDE constraint, building its index under an ACCESS EXCLUSIVE lock "
        "(there is no concurrent form)",
        "declare it when the table is created, or enforce the rule with a unique index built "
        "CONCURRENTLY or a trigger",
    ),
    "backfill-under-lock": Rule(
        "changes rows while an earlier statement of the same file holds an ACCESS EXCLUSIVE "
        "lock, so that table stays unreadable until the whole backfill commits",
        "backfill in a later migration (in batches), after the schema change has committed",
    ),
    "validate-in-same-file": Rule(
        "validates a constraint added NOT VALID in the same file: the transaction still holds "
        "the ADD's ACCESS EXCLUSIVE lock while every row is checked",
        "move VALIDATE CONSTRAINT to a later migration",
    ),
    "add-column-foreign-key": Rule(
        "adds a column with REFERENCES, validating the new foreign key under lock",
        "add the column plain, then ADD CONSTRAINT ... FOREIGN KEY ... NOT VALID and "
        "VALIDATE it in a later migration",
    ),
    "add-column-unique": Rule(
        "adds a column with UNIQUE / PRIMARY KEY, building its index while blocking writes",
        "add the column plain, CREATE UNIQUE INDEX CONCURRENTLY in a non-transactional "
        "migration, then ADD CONSTRAINT ... USING INDEX",
    ),
    "add-column-not-null": Rule(
        "adds a NOT NULL column without a default: fails on a table with rows",
        "give it a constant DEFAULT (PostgreSQL 11+ adds it without a rewrite), or add it "
        "nullable, backfill, then make it NOT NULL via a validated CHECK",
    ),
    "add-column-volatile-default": Rule(
        "adds a column whose default is volatile (or any default before PostgreSQL 11), "
        "rewriting the table under an ACCESS EXCLUSIVE lock",
        "add the column without a default, SET DEFAULT for new rows, and backfill old rows "
        "in batches",
    ),
    "add-column-generated": Rule(
        "adds a stored generated column, rewriting the table under an ACCESS EXCLUSIVE lock",
        "add a plain column filled by a trigger for new rows, backfill old rows in batches",
    ),
    "add-column-serial": Rule(
        "adds a serial / identity column, rewriting the table to number every row",
        "add a plain bigint column, attach a sequence default for new rows, backfill in batches",
    ),
    "add-column-json": Rule(
        "adds a json column: json has no equality operator, so DISTINCT, UNION and GROUP BY "
        "over the table's rows fail",
        "use jsonb",
    ),
    "create-index": Rule(
        "builds an index on an existing table while blocking writes to it",
        "use CREATE INDEX CONCURRENTLY alone in a file marked `-- shoppulse:non-transactional`",
    ),
    "drop-index": Rule(
        "drops an index under an ACCESS EXCLUSIVE lock on its table, waiting for and "
        "blocking every query on it",
        "use DROP INDEX CONCURRENTLY alone in a file marked `-- shoppulse:non-transactional`",
    ),
    "reindex": Rule(
        "rebuilds an index while blocking writes to its table (and reads that use it)",
        "use REINDEX ... CONCURRENTLY (PostgreSQL 12+) alone in a file marked "
        "`-- shoppulse:non-transactional`",
    ),
    "vacuum-full": Rule(
        "rewrites the table under an ACCESS EXCLUSIVE lock for the whole run",
        "run pg_repack or pg_squeeze outside the migration, or plain VACUUM",
    ),
    "cluster": Rule(
        "rewrites the table in index order under an ACCESS EXCLUSIVE lock for the whole run",
        "run pg_repack --order-by outside the migration",
    ),
    "detach-partition": Rule(
        "detaches a partition under an ACCESS EXCLUSIVE lock on the parent table",
        "use DETACH PARTITION ... CONCURRENTLY (PostgreSQL 14+) alone in a file marked "
        "`-- shoppulse:non-transactional`",
    ),
    "alter-domain-add-constraint": Rule(
        "adds a domain constraint, checking every column of that domain in every table under lock",
        "ADD CONSTRAINT ... NOT VALID on the domain, then VALIDATE CONSTRAINT in a later migration",
    ),
    # -- compatibility with the code already running -----------------------------------------
    "rename-table": Rule(
        "renames a table (or moves it to another schema); running application code still "
        "uses the old name",
        "create the new name as a view or a copy, move the code, then drop the old name "
        "(or leave a view under the old name in the same migration)",
    ),
    "rename-column": Rule(
        "renames a column; running application code still uses the old name",
        "add the new column, write both, move the readers, then drop the old one",
    ),
    "rename-schema": Rule(
        "renames a schema; running code and search_path settings still use the old name",
        "create the new schema, move objects one by one, keep views in the old one until "
        "no code uses it",
    ),
    "rename-enum-value": Rule(
        "renames an enum value; running code still writes and compares the old label",
        "ADD VALUE the new label, move the rows and the code, keep the old label",
    ),
    "drop-not-null": Rule(
        "drops NOT NULL; running code that reads the column does not expect NULLs",
        "make every reader handle NULL in a release before this migration",
    ),
    "drop-default": Rule(
        "drops a column default; running code that leaves the column out of INSERTs now "
        "writes NULL (or fails on NOT NULL)",
        "make every writer set the column in a release before this migration",
    ),
    # -- what the engine cannot run ----------------------------------------------------------
    "non-transactional": Rule(
        "cannot run inside a transaction, but the file is not marked non-transactional",
        NON_TRANSACTIONAL_FILE,
        allowable=False,
    ),
    "transaction-control": Rule(
        "controls the transaction, which the engine owns",
        "remove it: the engine wraps each file in its own transaction",
        allowable=False,
    ),
    "syntax-error": Rule("is not valid PostgreSQL", "fix the statement", allowable=False),
    "allow-without-reason": Rule(
        "allow marker without a rule id and a reason",
        "write `-- allow: <rule-id> reason: <why this is safe>`",
        allowable=False,
    ),
    "unknown-rule": Rule(
        "allow marker names no rule a marker can allow",
        "use one of the rule ids `shoppulse-db lint` reports (docs/lint.md)",
        allowable=False,
    ),
}
