/* Literals and names: every way a ';' can hide from a naive splitter.
   /* nested comment; PostgreSQL allows it */ still a comment;
*/
CREATE TABLE "order lines;v2" (
    id bigint GENERATED ALWAYS AS IDENTITY,
    price$usd numeric(12, 2) NOT NULL,
    x$$y text DEFAULT 'a;b',
    é$1 text,
    note text DEFAULT E'it\'s; escaped\\',
    path text DEFAULT 'C:\temp\',
    raw bytea DEFAULT '\xdeadbeef',
    flags bit(4) DEFAULT B'1010',
    mask bit varying DEFAULT X'1F',
    label text DEFAULT U&'d\0061t\+000061; ok',
    alt text DEFAULT U&'d!0061t;' UESCAPE '!',
    multi text DEFAULT 'first part; '
                       'second part',
    doc jsonb DEFAULT '{"a": "b;c", "d": [1, 2]}'::jsonb
);

SELECT U&"d\0061t\+000061" FROM t;

SELECT "a;""b", 'it''s; fine', $$dollar; text$$, $x$ $$ ; $x$ AS "x"
  FROM "order lines;v2" -- trailing comment; ignored
 WHERE doc ->> 'a' = 'b;c' AND doc @> '{"d": [1]}' AND 1 - -1 = 2;

SELECT 1 +-- a comment right after an operator;
    2;

SELECT '--not a comment;', '/* nor this; */', E'\'', e'\\';

SELECT N'national; text', X'FF'::bit(8), 'a' || $$b$$ || 'c';

SELECT (ARRAY[1, 2])[1:2], '{1,2}'::int[], (SELECT 1)::text;

SELECT 1 AS "end", 2 AS "begin";

CREATE INDEX ON "order lines;v2" ((doc ->> 'a')) WHERE note <> ';';

COMMENT ON COLUMN "order lines;v2".x$$y IS 'a column whose name has $$ in it; really';

PREPARE lookup(bigint) AS SELECT * FROM "order lines;v2" WHERE id = $1;

SELECT 'last statement without a semicolon'
