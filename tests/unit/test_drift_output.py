"""How a difference reads: kind and name first, the changed words, and a diff for long texts."""

from __future__ import annotations

from db_init.drift import Difference

FUNCTION = "CREATE FUNCTION f()\n RETURNS trigger\nAS $$\nBEGIN\n    NEW.at = now();\n    RETURN NEW;\nEND\n$$"


def _changed(kind: str, expected: str, live: str) -> Difference:
    return Difference("changed", kind, "public.x", "public.x", expected, live)


def test_a_short_change_is_one_line_without_a_diff() -> None:
    difference = _changed("sequence", "integer increment 1 cache 1", "integer increment 1 cache 20")

    assert (
        str(difference) == "changed sequence public.x: expected ... 1 cache 1, live ... 1 cache 20"
    )
    assert difference.diff() == []


def test_a_long_definition_is_not_cut_but_shown_where_it_differs() -> None:
    # GIVEN a policy whose USING changed far beyond the first 160 characters
    prefix = "permissive for all to PUBLIC using (" + "x = 1 AND " * 30
    difference = _changed("policy", prefix + "tenant_id = t)", prefix + "true)")

    # THEN the line shows the changed words, whatever their position
    assert str(difference).endswith("expected ... 1 AND tenant_id = t), live ... 1 AND true)")


def test_a_multi_line_definition_shows_the_changed_lines() -> None:
    difference = _changed("function", FUNCTION, FUNCTION.replace("    NEW.at = now();\n", ""))

    assert difference.diff() == [
        "@@ -4,3 +4,2 @@",
        " BEGIN",
        "-    NEW.at = now();",
        "     RETURN NEW;",
    ]


def test_whitespace_alone_is_no_difference_to_show() -> None:
    difference = _changed("view", "view as SELECT 1", "view as  SELECT 1")

    assert str(difference) == "changed view public.x: differs only in layout"


def test_missing_and_unexpected_show_the_first_line_of_the_text() -> None:
    missing = Difference("missing", "function", "public.f()", "public.f()", FUNCTION, None)

    assert str(missing) == "missing function public.f(): CREATE FUNCTION f() ..."
