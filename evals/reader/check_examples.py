"""Check the reader's training examples: every answer sentence is verbatim in its document.

    python -m evals.reader.check_examples [FILE ...]   (default: evals/reader/examples/*.jsonl)

Prints one line per problem and a count per file; exit status 1 when anything is wrong.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from evals.paths import REPO

KINDS = {"factual", "list", "span", "procedure", "yesno", "definition", "number", "unanswerable"}
FIELDS = {"id", "doc", "question", "answer", "origin", "style", "kind", "lang"}


def norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def doc_path(doc: str) -> Path:
    return (REPO / doc).resolve()


def check_file(path: Path, seen: set[str]) -> list[str]:
    problems = []
    cache: dict[str, str] = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path.name}:{n}"
        try:
            ex = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(f"{where}: not JSON ({exc})")
            continue
        missing = FIELDS - set(ex)
        if missing:
            problems.append(f"{where}: missing {sorted(missing)}")
            continue
        if ex["id"] in seen:
            problems.append(f"{where}: duplicate id {ex['id']}")
        seen.add(ex["id"])
        if ex["origin"] not in {"faq", "written"} or ex["style"] not in {"literal", "paraphrase"}:
            problems.append(f"{where}: origin must be faq|written, style literal|paraphrase")
        if ex["kind"] not in KINDS or ex["lang"] not in {"nl", "en"}:
            problems.append(f"{where}: kind {ex['kind']!r} or lang {ex['lang']!r} unknown")
        if ex["doc"] not in cache:
            p = doc_path(ex["doc"])
            cache[ex["doc"]] = norm(p.read_text(encoding="utf-8")) if p.is_file() else ""
        text = cache[ex["doc"]]
        if not text:
            problems.append(f"{where}: document {ex['doc']} not found")
            continue
        if ex["kind"] == "unanswerable":
            if ex["answer"]:
                problems.append(f"{where}: an unanswerable question has answer []")
            continue
        if not ex["answer"]:
            problems.append(f"{where}: no answer sentence")
        for sentence in ex["answer"]:
            if len(norm(sentence)) < 15 or norm(sentence) not in text:
                problems.append(f"{where}: answer not verbatim in {ex['doc']}: {sentence[:70]!r}")
    return problems


def main(argv: list[str]) -> int:
    files = [Path(a) for a in argv] or sorted((REPO / "evals/reader/examples").glob("*.jsonl"))
    seen: set[str] = set()
    bad = 0
    for f in files:
        problems = check_file(f, seen)
        for p in problems:
            print(p)
        count = sum(1 for line in f.read_text(encoding="utf-8").splitlines() if line.strip())
        print(f"{f.name}: {count} examples, {len(problems)} problems")
        bad += len(problems)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
