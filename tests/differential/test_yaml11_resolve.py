"""`yaml11_kind` against yaml.v2 itself: a plain scalar it calls text is text to yaml.v2, and it calls null
exactly what yaml.v2 calls null. Where it says "not text" for something yaml.v2 reads as text (a number out of
range, an odd underscore), the reader only refuses more, which is allowed; the reverse would be a widening."""

from __future__ import annotations

import random

from migrator.awsauth.golang import Yaml11Kind, yaml11_kind
from tests.differential.conftest import Authenticator

# Characters numbers, booleans, nulls and timestamps are made of, and a few others.
_ALPHABET = "0123456789_+-.eExXoObBabcfFnNyYtTlLuUsSiI:~Z "
_KNOWN = [
    "0X1F", "0x1F", "0O17", "0o17", "0B101", "0b101", "-0b1", "0b-101", "0b+1", "+0x1F", ".5e3", "1e5_",
    "1_000", "+12", "012", "08", "09.5", ".inf", "-.Inf", ".NaN", "y", "Yes", "off", "ON", "~", "null", "NULL",
    "2001-12-14", "2001-12-14T21:59:43Z", "2001-12-14t21:59:43.10-05:00", "2001-1-2 3:4:5", "1e999",
    "0x" + "F" * 20, "9" * 30, "._", ".e5", "1e", "0x", "1.2.3", "123-team", "2023-team", "0b2",
]  # fmt: skip


def _words(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    words = set(_KNOWN)
    while len(words) < count:
        word = "".join(rng.choice(_ALPHABET) for _ in range(rng.randint(1, 9))).strip(" ")
        plain = not word.startswith(("-", ":", "?", "#")) and not word.endswith(":")
        if word and plain and ": " not in word and " #" not in word:
            words.add(word)
    return sorted(words)


def test_yaml11_kind_never_calls_text_what_yaml_v2_reads_as_something_else(authenticator: Authenticator) -> None:
    words = _words(20_000, seed=19)
    kinds = authenticator.resolve(words)
    unsafe = [
        (word, go, yaml11_kind(word))
        for word, go in zip(words, kinds, strict=True)
        if (yaml11_kind(word) is Yaml11Kind.STR and go != "str")
        or ((yaml11_kind(word) is Yaml11Kind.NULL) != (go == "null"))
    ]
    assert not unsafe, unsafe[:20]
    # The superset stays small: a handful of odd spellings, not whole families of real values.
    over = [
        word for word, go in zip(words, kinds, strict=True) if go == "str" and yaml11_kind(word) is not Yaml11Kind.STR
    ]
    assert len(over) < len(words) // 200, over[:20]
