"""Every document of the seeded corpus (corpus/documents.jsonl, made by corpus.py) is planned as the
authenticator reads it: refused with exit 2, or a plan with no widening, no other identity, no loss and no
crash (judge.py says exactly what each means)."""

from __future__ import annotations

from tests.differential.corpus import load_corpus
from tests.differential.judge import Oracle, Outcome, judge_documents, report

MIN_DOCUMENTS = 600


def test_the_seeded_corpus_is_planned_as_the_authenticator_reads_it(authenticator: Oracle) -> None:
    documents = load_corpus()
    assert len(documents) >= MIN_DOCUMENTS
    verdicts = judge_documents(documents, authenticator)
    failures = [verdict for verdict in verdicts if verdict.failed]
    assert not failures, report(verdicts)
    # The corpus must keep exercising the comparison, not only refusals.
    assert sum(verdict.kind is Outcome.OK for verdict in verdicts) >= len(verdicts) // 5, report(verdicts)
