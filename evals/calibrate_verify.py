"""Fit and check the citation verifier on ``evals/claims.jsonl`` (labelled claim → passage pairs).

    python -m evals.calibrate_verify [--claims evals/claims.jsonl] [--folds 5]

Computes the verifier's signals (best sentence similarity, content-word coverage, numbers) for
every pair with the index's embedding model and IDF, fits the two-weight logistic model by
cross-validation, prints the cross-validated and in-sample accuracy per kind of claim, and
writes the coefficients to ``kb/data/verify.json``, which :meth:`kb.answer.llm.verify.VerifyConfig.load`
reads. ``--check`` scores the coefficients in that file instead of fitting new ones.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from evals.paths import EVALS_DIR
from kb.answer.llm.verify import COEFFICIENTS, VERIFY_PATH, CitationVerifier, VerifyConfig
from kb.config import Settings
from kb.records import Passage

CLAIMS = EVALS_DIR / "claims.jsonl"


@dataclass(frozen=True)
class Row:
    id: str
    kind: str
    supported: bool
    dense: float
    lexical: float
    negation_mismatch: bool
    rules_ok: bool


def load_claims(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def signals(verifier: CitationVerifier, claims: list[dict]) -> list[Row]:
    """The verifier's signals for each claim against the span it is cited to."""
    rows = []
    for item in claims:
        passage = Passage([item["id"]], item["doc_id"], "", "", "", "", "", item["support"], 1.0)
        s = verifier.support(item["claim"], [passage], [0])
        supported = item["label"] == "supported"
        rows.append(Row(item["id"], item["kind"], supported, s.dense, s.lexical, s.negation_mismatch, s.rules_ok))
    return rows


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1e-2, steps: int = 50) -> np.ndarray:
    """Newton's method for L2-regularised logistic regression; x includes a bias column."""
    w = np.zeros(x.shape[1])
    for _ in range(steps):
        p = 1 / (1 + np.exp(-(x @ w)))
        grad = x.T @ (p - y) + l2 * np.r_[0, w[1:]]
        hess = (x.T * (p * (1 - p))) @ x + l2 * np.diag(np.r_[0, np.ones(len(w) - 1)])
        w -= np.linalg.solve(hess, grad)
    return w


def design(rows: list[Row]) -> tuple[np.ndarray, np.ndarray]:
    x = np.array([[1.0, r.dense, r.lexical, float(r.negation_mismatch)] for r in rows])
    y = np.array([1.0 if r.supported else 0.0 for r in rows])
    return x, y


def predict(w: np.ndarray, rows: list[Row], threshold: float = 0.5) -> list[bool]:
    x, _ = design(rows)
    p = 1 / (1 + np.exp(-(x @ w)))
    return [bool(pi >= threshold and r.rules_ok) for pi, r in zip(p, rows)]


def cross_validated(rows: list[Row], folds: int, threshold: float = 0.5) -> list[bool]:
    """Out-of-fold predictions (folds by claim id order, so paired claims on one span can split)."""
    out: list[bool] = [False] * len(rows)
    for fold in range(folds):
        train = [r for i, r in enumerate(rows) if i % folds != fold and r.rules_ok]
        w = fit_logistic(*design(train))
        for i, r in enumerate(rows):
            if i % folds == fold:
                out[i] = predict(w, [r], threshold)[0]
    return out


def report(rows: list[Row], predicted: list[bool], title: str) -> dict:
    by_kind: dict[str, list[bool]] = defaultdict(list)
    for r, p in zip(rows, predicted):
        by_kind[r.kind].append(p == r.supported)
    kept_bad = sum(p and not r.supported for r, p in zip(rows, predicted))
    kept = sum(predicted)
    supported = sum(r.supported for r in rows)
    summary = {
        "accuracy": round(float(np.mean([p == r.supported for r, p in zip(rows, predicted)])), 3),
        "supported_kept": round(sum(p and r.supported for r, p in zip(rows, predicted)) / supported, 3),
        "unsupported_caught": round(
            sum(not p and not r.supported for r, p in zip(rows, predicted)) / (len(rows) - supported), 3
        ),
        "precision_of_kept": round((kept - kept_bad) / kept, 3) if kept else 0.0,
        "by_kind": {k: round(float(np.mean(v)), 3) for k, v in sorted(by_kind.items())},
    }
    print(f"\n{title}")
    print(json.dumps(summary, indent=2, ensure_ascii=False))
    return summary


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--claims", type=Path, default=CLAIMS)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--check", action="store_true", help="score the coefficients in --file; fit nothing")
    parser.add_argument("--file", type=Path, default=VERIFY_PATH, help="the coefficients: scored, then rewritten")
    args = parser.parse_args(argv)

    from kb.service import build_kb

    kb = build_kb(Settings.from_env())
    kb.retriever.refresh(force=True)  # the IDF comes from the loaded index, as when answering
    verifier = CitationVerifier(kb.embed_model, kb.retriever.idf)
    rows = signals(verifier, load_claims(args.claims))
    for kind in sorted({r.kind for r in rows}):
        mine = [r for r in rows if r.kind == kind]
        print(
            f"{kind:14s} n={len(mine):3d} dense={np.mean([r.dense for r in mine]):.3f} "
            f"lexical={np.mean([r.lexical for r in mine]):.3f} negation_mismatch="
            f"{np.mean([r.negation_mismatch for r in mine]):.2f} rules_ok={np.mean([r.rules_ok for r in mine]):.2f}"
        )
    config = VerifyConfig.load(args.file)
    shipped = np.array([config.intercept, config.w_dense, config.w_lexical, config.w_negation])
    report(rows, predict(shipped, rows, config.threshold), f"coefficients in {args.file.name}")
    if args.check:
        return
    validated = report(rows, cross_validated(rows, args.folds), f"{args.folds}-fold cross-validated")
    print("\nthreshold  supported kept  unsupported caught  (cross-validated)")
    for threshold in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8):
        predicted = cross_validated(rows, args.folds, threshold)
        kept = np.mean([p for r, p in zip(rows, predicted) if r.supported])
        caught = np.mean([not p for r, p in zip(rows, predicted) if not r.supported])
        print(f"{threshold:9.1f}  {kept:14.3f}  {caught:18.3f}")
    w = fit_logistic(*design([r for r in rows if r.rules_ok]))
    report(rows, predict(w, rows), "fitted on all claims (in-sample)")
    payload = fitted_file(w, len(rows), kb.store.model_id, args.folds, validated)
    args.file.write_text(json.dumps(payload, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"\n{payload['coefficients']} written to {args.file}")


def fitted_file(w: np.ndarray, pairs: int, model_id: str, folds: int, validated: dict) -> dict:
    """What ``kb/data/verify.json`` holds: the coefficients (two decimals), the model and how they did."""
    return {
        "how": "python -m evals.calibrate_verify",
        "fitted_on": f"evals/claims.jsonl ({pairs} claim/passage pairs) with the index's IDF",
        "embedding": model_id,
        "coefficients": {name: round(float(value), 2) for name, value in zip(COEFFICIENTS, w)},
        "cross_validated": {"folds": folds, "threshold": 0.5, **validated},
    }


if __name__ == "__main__":
    main()
