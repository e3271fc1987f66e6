"""The seeded corpus of aws-auth documents (corpus/documents.jsonl): `documents.py`'s generator driven by a
seeded `random.Random` instead of hypothesis, so the file is stable and reviewable.

    python -m tests.differential.corpus --write     # regenerate corpus/documents.jsonl
    python -m tests.differential.corpus             # say what it would write, and whether the file differs

Each line is one JSON object, {"id", "document"}; the id names the classes the document was made with
(`0042-merge-keys`, `0043-ordinary`, `0044-escapes+folded-keys`). The file is committed as generated; a
change to the generator changes it, so regenerate it in the same commit.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

from tests.differential.documents import Kind, RandomChooser, generate

PATH = Path(__file__).parent / "corpus" / "documents.jsonl"
SEED = 19  # the number
COUNT = 720


def _schedule(rng: random.Random, index: int) -> frozenset[Kind]:
    """Ordinary documents, each class alone, and mixes of classes, in turn."""
    kinds = list(Kind)
    slot = index % (len(kinds) + 3)
    if slot < len(kinds):
        return frozenset({kinds[slot]})
    if slot == len(kinds):
        return frozenset()
    return frozenset(rng.sample(kinds, rng.randint(2, 4)))


def generate_corpus(count: int = COUNT, seed: int = SEED) -> list[dict[str, str]]:
    rng = random.Random(seed)
    rows = []
    for index in range(count):
        kinds = _schedule(rng, index)
        label = "+".join(sorted(kind.value for kind in kinds)) or "ordinary"
        rows.append({"id": f"{index:04d}-{label}", "document": generate(RandomChooser(rng), kinds)})
    return rows


def dumps(rows: list[dict[str, str]]) -> str:
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)


def load_corpus(path: Path = PATH) -> list[tuple[str, str]]:
    """(id, document) pairs of the corpus file."""
    rows = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                row = json.loads(line)
                rows.append((str(row["id"]), str(row["document"])))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--write",
        action="store_true",
        help=f"write {PATH.relative_to(Path.cwd()) if PATH.is_relative_to(Path.cwd()) else PATH}",
    )
    args = parser.parse_args(argv)
    text = dumps(generate_corpus())
    size = len(text.encode("utf-8"))
    if args.write:
        PATH.parent.mkdir(exist_ok=True)
        PATH.write_text(text, encoding="utf-8")
        print(f"wrote {COUNT} documents ({size:,} bytes) to {PATH}")
        return 0
    same = PATH.exists() and PATH.read_text(encoding="utf-8") == text
    print(f"{COUNT} documents ({size:,} bytes); {PATH} is {'up to date' if same else 'different: run with --write'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
