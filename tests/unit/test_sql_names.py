"""The names a migration mentions: PostgreSQL's parser and the Lambda's fallback agree."""

from __future__ import annotations

import pytest

from db_init import sql_names

STATEMENTS = [
    ('ALTER TABLE "orders" ADD COLUMN channel text', {"orders"}, {"Orders", "ORDERS"}),
    ('ALTER TABLE "Orders" ADD COLUMN channel text', {"Orders"}, {"orders"}),
    ("alter table Orders add column channel text", {"orders"}, {"Orders"}),
    (
        "CREATE OR REPLACE FUNCTION public.set_updated_at() RETURNS trigger LANGUAGE plpgsql "
        "AS $$ BEGIN UPDATE tenants SET x = 1; RETURN NEW; END $$",
        {"set_updated_at"},
        {"tenants"},  # a function body is not what the migration alters
    ),
    ("GRANT SELECT ON audit_logs TO shoppulse_app", {"audit_logs", "shoppulse_app"}, set()),
    ("ALTER SEQUENCE fulfillment_fulfillment_id_seq CACHE 5", {"fulfillment_fulfillment_id_seq"},
     set()),
    ("-- orders\nCOMMENT ON TABLE users IS 'about orders'", {"users"}, {"orders"}),
    ("DO $$ BEGIN EXECUTE 'DROP TABLE orders'; END $$", set(), {"orders"}),
]  # fmt: skip


@pytest.mark.parametrize("parser", [True, False], ids=["pglast", "fallback"])
@pytest.mark.parametrize(("sql", "named", "not_named"), STATEMENTS)
def test_names_are_exact_with_and_without_the_parser(
    parser: bool, sql: str, named: set[str], not_named: set[str]
) -> None:
    found = sql_names.named_in([sql], parser=parser)
    assert named <= found
    assert not (not_named & found)


def test_a_file_that_does_not_parse_still_yields_its_names() -> None:
    assert "orders" in sql_names.named_in(["ALTER TABLE orders ADD COLUM x"], parser=True)
