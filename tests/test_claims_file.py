"""Checks the labelled claim file ``evals/claims.jsonl`` (see ``evals/CLAIMS.md``).

Fast and offline: no model, no network. It only reads the claim file and the sample corpus.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from functools import cache
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
CLAIMS = REPO / "evals" / "claims.jsonl"
CORPUS = REPO / "corpus"

REQUIRED = ("id", "claim", "doc_id", "support", "label", "kind")
OPTIONAL = ("notes",)
KINDS = {
    "supported": {"near-verbatim", "paraphrase", "summary"},
    "unsupported": {"wrong-number", "wrong-actor", "negation", "other-passage", "invented", "overreach"},
}
CITATION = re.compile(r"\[\s*\d+(\s*[,–-]\s*\d+)*\s*\]")


def collapse(text: str) -> str:
    """Collapse every whitespace run (including non-breaking spaces) to one space and trim."""
    return " ".join(text.split())


@cache
def documents() -> dict[str, str]:
    """Doc id (from the ``*.meta.yaml`` sidecar) -> whitespace-collapsed text of the matching ``.txt``."""
    docs = {}
    for meta_path in sorted(CORPUS.glob("*.meta.yaml")):
        meta = yaml.safe_load(meta_path.read_text(encoding="utf-8")) or {}
        doc_id = meta.get("doc_id") or meta.get("id")
        text_path = meta_path.with_name(meta_path.name.removesuffix(".meta.yaml") + ".txt")
        assert doc_id, f"{meta_path.name}: no doc id"
        assert text_path.exists(), f"{meta_path.name}: missing {text_path.name}"
        assert doc_id not in docs, f"duplicate doc id {doc_id}"
        docs[doc_id] = collapse(text_path.read_text(encoding="utf-8"))
    return docs


@cache
def records() -> list[dict]:
    rows = []
    for n, line in enumerate(CLAIMS.read_text(encoding="utf-8").splitlines(), 1):
        assert line.strip(), f"line {n}: empty line"
        row = json.loads(line)
        assert isinstance(row, dict), f"line {n}: not a JSON object"
        rows.append(row)
    return rows


def test_corpus_has_the_five_sample_documents():
    assert set(documents()) == {
        "cop-amsterdam-coa-samenwerking",
        "cop-midden-limburg-duale-trajecten",
        "handreiking-warme-overdracht",
        "morgens-bureau-nieuwkomers-arnhem",
        "cop-klantmanagers-gezinsmigranten",
    }


def test_every_line_parses_and_ids_are_sequential():
    rows = records()
    assert rows, "claims.jsonl is empty"
    assert [r.get("id") for r in rows] == [f"c{i:03d}" for i in range(1, len(rows) + 1)]


def test_fields_present_and_typed():
    for r in records():
        missing = [k for k in REQUIRED if k not in r]
        assert not missing, f"{r.get('id')}: missing {missing}"
        unknown = set(r) - set(REQUIRED) - set(OPTIONAL)
        assert not unknown, f"{r['id']}: unknown fields {sorted(unknown)}"
        for key in r:
            assert isinstance(r[key], str), f"{r['id']}: {key} is not a string"
        assert r["doc_id"] in documents(), f"{r['id']}: unknown doc_id {r['doc_id']}"


def test_label_and_kind_are_allowed_and_consistent():
    for r in records():
        assert r["label"] in KINDS, f"{r['id']}: bad label {r['label']!r}"
        assert r["kind"] in KINDS[r["label"]], f"{r['id']}: kind {r['kind']!r} does not fit label {r['label']!r}"


def test_claim_is_one_short_sentence_without_citation_markers():
    for r in records():
        claim = r["claim"]
        assert claim == claim.strip() and "\n" not in claim, f"{r['id']}: stray whitespace"
        assert not CITATION.search(claim), f"{r['id']}: citation marker in claim"
        words = len(claim.split())
        assert 8 <= words <= 40, f"{r['id']}: claim has {words} words"


def test_support_length():
    for r in records():
        n = len(collapse(r["support"]))
        assert 40 <= n <= 400, f"{r['id']}: support is {n} characters"


def test_support_is_verbatim_in_its_document():
    docs = documents()
    for r in records():
        support = collapse(r["support"])
        assert support in docs[r["doc_id"]], f"{r['id']}: support not found in {r['doc_id']}: {support[:80]!r}"


def test_no_duplicate_pairs():
    pairs = Counter((r["claim"], r["doc_id"], collapse(r["support"])) for r in records())
    dupes = [p[0][:60] for p, k in pairs.items() if k > 1]
    assert not dupes, f"duplicate claim/support pairs: {dupes}"


@pytest.mark.parametrize("label", sorted(KINDS))
def test_every_kind_and_document_is_used(label):
    rows = [r for r in records() if r["label"] == label]
    assert {r["kind"] for r in rows} == KINDS[label]
    assert {r["doc_id"] for r in rows} == set(documents())
