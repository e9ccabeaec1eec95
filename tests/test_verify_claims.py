"""The citation verifier with the shipped coefficients on the labelled claims (evals/claims.jsonl),
using the real e5 model and the sample index's IDF: a regression gate, set a little below what
`python -m evals.calibrate_verify --check` measured (93.5% kept, 84.3% caught)."""

from __future__ import annotations

import numpy as np
import pytest

from evals.calibrate_verify import CLAIMS, load_claims, predict, signals
from kb.answer.llm.verify import CitationVerifier, VerifyConfig, actors_in, negated


def test_actor_and_negation_rules():
    assert actors_in("Het COA betaalt, niet de gemeentelijke afdeling of de taalaanbieder.") == {
        "coa",
        "gemeente",
        "taalschool",
    }
    assert negated("Dat is niet verplicht.") and not negated("Dat is verplicht.")


@pytest.mark.slow
def test_verifier_keeps_supported_and_catches_unsupported_claims(sample_kb):
    verifier = CitationVerifier(sample_kb.embed_model, sample_kb.retriever.idf)
    rows = signals(verifier, load_claims(CLAIMS))
    config = VerifyConfig.load()
    predicted = predict(np.array([config.intercept, config.w_dense, config.w_lexical, config.w_negation]), rows)
    kept = np.mean([p for r, p in zip(rows, predicted) if r.supported])
    caught = np.mean([not p for r, p in zip(rows, predicted) if not r.supported])
    false_citations = [not p for r, p in zip(rows, predicted) if r.kind == "other-passage"]
    assert kept >= 0.91, kept
    assert caught >= 0.80, caught
    assert all(false_citations), "a claim cited to an unrelated passage was accepted"
