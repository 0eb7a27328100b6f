"""Channel names obey Slack's rules whatever the title."""

from __future__ import annotations

import re

import pytest

from bot.slack.names import channel_name

RULE = re.compile(r"^[a-z0-9_-]{1,80}$")


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Checkout is failing", "inc-20261122-007-checkout-is-failing"),
        ("<!channel> db down & <slow>", "inc-20261122-007-channel-db-down-slow"),
        ("Café crème — Zürich", "inc-20261122-007-cafe-creme-zurich"),
        ("🔥🔥🔥", "inc-20261122-007"),
        ("مرحبا بالعالم", "inc-20261122-007"),
        ("   ", "inc-20261122-007"),
    ],
)
def test_names(title: str, expected: str) -> None:
    assert channel_name("INC-20261122-007", title) == expected


@pytest.mark.parametrize("attempt", [1, 2, 9, 10, 20])
def test_long_titles_fit_with_suffix(attempt: int) -> None:
    name = channel_name("INC-20261122-007", "x" * 5000, attempt)
    assert RULE.match(name)
    assert len(name) <= 80
    if attempt > 1:
        assert name.endswith(f"-{attempt}")
