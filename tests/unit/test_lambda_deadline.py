"""The handler's own deadline: the Lambda's remaining time minus a margin to roll back and answer."""

from __future__ import annotations

import pytest

from db_init.handler import lambda_deadline, placeholder_id


class Context:
    def __init__(self, remaining_ms: int) -> None:
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


@pytest.mark.parametrize(
    ("remaining_s", "budget_s"),
    [(900, 870), (120, 108), (10, 8), (3, 1), (1, -1)],
)
def test_margin_is_a_tenth_between_2_and_30_seconds(remaining_s: int, budget_s: float) -> None:
    deadline = lambda_deadline(Context(remaining_s * 1000))
    assert deadline.remaining() == pytest.approx(budget_s, abs=0.05)


def test_a_resource_that_never_knew_its_database_gets_a_stable_id() -> None:
    assert placeholder_id({"LogicalResourceId": "Schema"}) == "Schema-not-created"
