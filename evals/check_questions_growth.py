"""Check ``questions_growth.jsonl`` (questions about the growth texts) against the real files.

Usage (from the repo root)::

    python evals/check_questions_growth.py [--file F] [--growth DIR] [--corpus DIR]

The rules are those of ``QUESTIONS.md`` plus the brief for the growth set: ids ``g001``…,
topic slugs ``groei-…`` (``buiten-corpus`` for unanswerable questions), minimum counts per type,
at least 3 English answerable questions, at least 25 growth documents covered and at most 3
questions per growth document, at least 4 "sources disagree" questions (notes starting with
``Bronnen verschillen:``), and unanswerable questions whose ``grep:`` terms really do not occur in
the growth texts or the sample corpus. Exits 1 and lists every problem when a rule is broken.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from pathlib import Path

from evals.paths import CORPUS, EVALS_DIR, SHARED_GROWTH

FIELDS = ["id", "question", "type", "lang", "topic", "history", "expected_docs", "expected_passages", "key_facts"]
TYPES = ("factual", "paraphrased", "multi-passage", "follow-up", "unanswerable")
MINIMUM = {"factual": 14, "paraphrased": 10, "multi-passage": 7, "follow-up": 6, "unanswerable": 8}
MIN_TOTAL, MIN_EN, MIN_DOCS, MAX_PER_DOC, MIN_DISAGREE = 48, 3, 25, 3, 4
DISAGREE = "Bronnen verschillen:"
STOP = set(
    [
        "aan",
        "als",
        "bij",
        "dan",
        "dat",
        "die",
        "dit",
        "een",
        "en",
        "er",
        "het",
        "hij",
        "hoe",
        "hun",
        "ik",
        "in",
        "is",
        "je",
        "kan",
        "kun",
        "met",
        "mijn",
        "moet",
        "na",
        "naar",
        "niet",
        "nog",
        "of",
        "om",
        "ook",
        "op",
        "over",
        "te",
        "tot",
        "uit",
        "van",
        "voor",
        "wat",
        "wel",
        "welke",
        "wie",
        "zijn",
        "zo",
        "zich",
        "ze",
        "al",
        "eerst",
        "deze",
        "door",
        "dus",
        "geen",
        "heeft",
        "hebben",
        "iemand",
        "iets",
        "klant",
        "mag",
        "maar",
        "meer",
        "moeten",
        "nu",
        "onder",
        "toch",
        "want",
        "waar",
        "wordt",
        "worden",
        "zijn",
        "z'n",
    ]
)


def collapse(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def load_docs(growth: Path, corpus: Path) -> tuple[dict[str, str], set[str]]:
    """Doc id -> collapsed body text; plus the set of growth ids. Growth bodies drop the ``Bron:`` line."""
    docs: dict[str, str] = {}
    growth_ids: set[str] = set()
    for path in sorted(growth.glob("*.txt")):
        text = path.read_text(encoding="utf-8")
        first, _, body = text.partition("\n")
        if not first.startswith("Bron:"):
            raise SystemExit(f"{path}: first line is not a 'Bron:' line")
        docs[path.stem] = collapse(body)
        growth_ids.add(path.stem)
    for meta in sorted(corpus.glob("*.meta.yaml")):
        match = re.search(r"^id:\s*(\S+)", meta.read_text(encoding="utf-8"), re.M)
        if match:
            docs[match.group(1)] = collapse(
                meta.with_name(meta.name.replace(".meta.yaml", ".txt")).read_text(encoding="utf-8")
            )
    return docs, growth_ids


def complete_end(body: str) -> int:
    """Index where the cut-off last sentence of a growth text starts (passages must end before it)."""
    ends = [m.end() for m in re.finditer(r"[.!?;:](?:\d+\)?)?(?=\s|$)", body)]
    return ends[-1] if ends else 0


def words(text: str) -> list[str]:
    return re.findall(r"[a-zà-ÿ0-9][a-zà-ÿ0-9'-]*", text.lower())


def check(
    records: list[tuple[int, dict]], docs: dict[str, str], growth_ids: set[str], raw_texts: list[str]
) -> list[str]:
    errors: list[str] = []
    seen: set[str] = set()
    per_doc: Counter[str] = Counter()
    types: Counter[str] = Counter()
    en = disagree = 0
    for index, (line_no, rec) in enumerate(records, 1):
        where = f"line {line_no} ({rec.get('id', '?')})"

        def err(message: str, where: str = where) -> None:
            errors.append(f"{where}: {message}")

        keys = list(rec)
        if keys not in (FIELDS, FIELDS + ["notes"]):
            err(f"fields/order must be {FIELDS} (+ optional notes), got {keys}")
            continue
        qid, kind = rec["id"], rec["type"]
        if qid != f"g{index:03d}":
            err(f"id must be g{index:03d} (consecutive series)")
        if qid in seen:
            err("duplicate id")
        seen.add(qid)
        if not isinstance(rec["question"], str) or len(rec["question"].strip()) < 5:
            err("question missing")
        if kind not in TYPES:
            err(f"unknown type {kind!r}")
            continue
        types[kind] += 1
        if rec["lang"] not in ("nl", "en"):
            err(f"lang must be nl|en, got {rec['lang']!r}")
        if "notes" in rec and not (isinstance(rec["notes"], str) and rec["notes"].strip()):
            err("notes, when present, must be a non-empty string")
        for name in ("history", "expected_docs", "expected_passages", "key_facts"):
            if not isinstance(rec[name], list) or not all(isinstance(x, str) and x.strip() for x in rec[name]):
                err(f"{name} must be a list of non-empty strings")
                break
        else:
            history = rec["history"]
            if kind == "follow-up":
                if not 1 <= len(history) <= 2:
                    err("follow-up needs 1-2 history items")
                if len(words(rec["question"])) > 12:
                    err("follow-up question should be short and elliptical (<= 12 words)")
            elif history:
                err("history must be [] for non-follow-up questions")

            if kind == "unanswerable":
                if rec["topic"] != "buiten-corpus":
                    err("unanswerable questions use topic buiten-corpus")
                if rec["expected_docs"] or rec["expected_passages"] or rec["key_facts"]:
                    err("unanswerable: expected_docs, expected_passages and key_facts must be []")
                if rec["lang"] == "en":
                    pass  # allowed, but does not count towards the English answerable minimum
                match = re.search(r"grep:\s*([^)]*)", rec.get("notes", ""))
                if not match:
                    err("unanswerable: notes must list the checked terms as 'grep: term, term'")
                else:
                    for term in [t.strip().rstrip(".") for t in match.group(1).split(",") if t.strip()]:
                        pattern = re.compile(r"(?<!\w)" + re.escape(term) + r"(?!\w)", re.I)
                        hits = [doc for doc, text in zip(sorted(docs), raw_texts) if pattern.search(text)]
                        if hits:
                            err(f"unanswerable: grep term {term!r} occurs in {hits}")
                continue

            # answerable
            if not re.fullmatch(r"groei-[a-z0-9]+(-[a-z0-9]+)*", rec["topic"]):
                err(f"topic must be a groei-<slug>, got {rec['topic']!r}")
            if rec["lang"] == "en":
                en += 1
            exp_docs, passages, facts = rec["expected_docs"], rec["expected_passages"], rec["key_facts"]
            if not exp_docs:
                err("answerable question needs expected_docs")
            if len(set(exp_docs)) != len(exp_docs):
                err("duplicate expected_docs")
            unknown = [d for d in exp_docs if d not in docs]
            if unknown:
                err(f"unknown doc ids {unknown}")
                continue
            want = 2 if kind == "multi-passage" else None
            if not 1 <= len(passages) <= 2 or (want and len(passages) != want):
                err(f"{'multi-passage needs exactly 2' if want else '1-2'} expected_passages, got {len(passages)}")
            supported: set[str] = set()
            collapsed = [collapse(p) for p in passages]
            for passage in collapsed:
                if not 40 <= len(passage) <= 300:
                    err(f"passage length {len(passage)} not in 40-300: {passage[:60]!r}")
                found = [d for d in exp_docs if passage in docs[d]]
                if not found:
                    err(f"passage not found verbatim in {exp_docs}: {passage[:80]!r}")
                for doc in found:
                    supported.add(doc)
                    if doc in growth_ids:
                        body = docs[doc]
                        if body.find(passage) + len(passage) > complete_end(body):
                            err(f"passage runs into the cut-off last sentence of {doc}")
            missing = [d for d in exp_docs if d not in supported]
            if missing:
                err(f"expected docs without a supporting passage: {missing}")
            if not 1 <= len(facts) <= 3:
                err(f"1-3 key_facts needed, got {len(facts)}")
            lower = " ".join(collapsed).lower()
            for fact in facts:
                if fact != fact.lower():
                    err(f"key fact not lowercase: {fact!r}")
                for alt in fact.split("|"):
                    alt = alt.strip()
                    if not alt or not 1 <= len(alt.split()) <= 4:
                        err(f"key fact alternative must have 1-4 words: {alt!r}")
                    if alt.lower() not in [c.lower() for c in collapsed] and collapse(alt.lower()) not in lower:
                        err(f"key fact {alt!r} not in the expected passages")
            if kind == "multi-passage" and len(collapsed) == 2 and collapsed[0] == collapsed[1]:
                err("multi-passage needs two different passages")
            if kind == "paraphrased" and rec["lang"] == "nl":
                content = [w for w in words(rec["question"]) if len(w) >= 4 and w not in STOP]
                shared = [w for w in content if w in set(words(" ".join(collapsed)))]
                if content and len(shared) / len(content) > 0.5:
                    err(f"paraphrased question shares too many words with its passages: {shared}")
            for doc in exp_docs:
                if doc in growth_ids:
                    per_doc[doc] += 1
            notes = rec.get("notes", "")
            if notes.startswith(DISAGREE):
                disagree += 1
                named = {d for d in docs if d in notes}
                if len(named) < 2:
                    err("'Bronnen verschillen' note must name at least two document ids")
                if not set(exp_docs) & named:
                    err("'Bronnen verschillen' note must name the expected document")
    # set-level rules
    for kind, minimum in MINIMUM.items():
        if types[kind] < minimum:
            errors.append(f"type {kind}: {types[kind]} < {minimum}")
    if len(records) < MIN_TOTAL:
        errors.append(f"only {len(records)} questions (< {MIN_TOTAL})")
    if en < MIN_EN:
        errors.append(f"only {en} English answerable questions (< {MIN_EN})")
    if len(per_doc) < MIN_DOCS:
        errors.append(f"only {len(per_doc)} growth documents covered (< {MIN_DOCS})")
    for doc, count in per_doc.items():
        if count > MAX_PER_DOC:
            errors.append(f"{doc}: {count} questions (> {MAX_PER_DOC})")
    if disagree < MIN_DISAGREE:
        errors.append(f"only {disagree} 'Bronnen verschillen' questions (< {MIN_DISAGREE})")
    summary = {
        "total": len(records),
        "types": dict(types),
        "en_answerable": en,
        "growth_docs_covered": len(per_doc),
        "uncovered_growth_docs": sorted(growth_ids - set(per_doc)),
        "disagree": disagree,
    }
    print(json.dumps(summary, ensure_ascii=False, indent=1))
    return errors


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", type=Path, default=EVALS_DIR / "questions_growth.jsonl")
    parser.add_argument("--growth", type=Path, default=SHARED_GROWTH)
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    args = parser.parse_args(argv)
    if not args.growth.is_dir():
        print(f"growth folder not found: {args.growth}", file=sys.stderr)
        return 2
    docs, growth_ids = load_docs(args.growth.resolve(), args.corpus)
    raw_texts = [docs[d] for d in sorted(docs)]
    records: list[tuple[int, dict]] = []
    problems: list[str] = []
    for line_no, line in enumerate(args.file.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(f"line {line_no}: invalid JSON ({exc})")
            continue
        if not isinstance(rec, dict):
            problems.append(f"line {line_no}: not a JSON object")
            continue
        records.append((line_no, rec))
    problems += check(records, docs, growth_ids, raw_texts)
    for problem in problems:
        print("FAIL", problem)
    print("OK" if not problems else f"{len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
