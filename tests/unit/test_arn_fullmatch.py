"""ARNs and the other validated strings match whole: `$` would let a trailing newline through."""

from __future__ import annotations

import pytest

from migrator.rules.arn import ArnError, is_padded_arn, parse_arn

GOOD = "arn:aws:iam::111122223333:role/Developer"


@pytest.mark.parametrize(
    "text",
    [
        GOOD + "\n",
        GOOD + " ",
        "\n" + GOOD,
        "arn:aws:iam::111122223333:user/maria\n",
        "arn:aws:iam::" + "\uff11" * 12 + ":role/Developer",  # fullwidth digits are not an account id
        "arn:aws:iam::111122223333:role/Dévelopér",  # IAM names are ASCII
        "arn:aws:sts::111122223333:assumed-role/R/s\n",
    ],
)
def test_an_arn_with_anything_around_or_outside_ascii_is_refused(text: str) -> None:
    with pytest.raises(ArnError):
        parse_arn(text)


def test_padded_arns_are_recognised_as_such() -> None:
    assert is_padded_arn(GOOD + "\n")
    assert is_padded_arn("  " + GOOD)
    assert not is_padded_arn(GOOD)
    assert not is_padded_arn("not an arn\n")
    assert not is_padded_arn("\n")
