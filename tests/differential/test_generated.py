"""Generated aws-auth documents (documents.py: ordinary mappings mixed with every class of issue 19) are
planned as the authenticator reads them: refused with exit 2, or a plan with no widening, no other
identity, no loss and no crash. Deterministic (derandomized), 2,000 documents a run."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings

from tests.differential.documents import any_document
from tests.differential.judge import Oracle, judge_document


@settings(
    max_examples=2000,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(document=any_document())
def test_generated_documents_are_planned_as_the_authenticator_reads_them(authenticator: Oracle, document: str) -> None:
    verdict = judge_document(document, authenticator)
    assert not verdict.failed, verdict.explain()
