"""The fixed dev/test split of the whole question set (``evals/split.json``).

Everything that is fitted or tuned (abstention model, sentence scorer, fusion weights,
thresholds) is fitted on ``dev`` only; the gate, the README figures and the closing notes
report ``test``. The split is made once and never reshuffled: within each stratum (question
file × question type) the ids are ordered by a salted SHA-256 of the id and dealt out
alternately, so each stratum is split half/half. Re-running the script keeps every existing
assignment and only deals out new ids (``python -m evals.split`` after adding questions).
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections import defaultdict
from pathlib import Path

from evals.errors import EvalError
from evals.paths import EVALS_DIR
from evals.questions import Question, load_questions

SPLIT_PATH = EVALS_DIR / "split.json"
QUESTION_FILES = (EVALS_DIR / "questions.jsonl", EVALS_DIR / "questions_growth.jsonl")
SALT = "cop-kennisbank/split/v1"
SPLITS = ("dev", "test")


def _order(question_id: str) -> str:
    return hashlib.sha256(f"{SALT}/{question_id}".encode()).hexdigest()


def load_split(path: Path = SPLIT_PATH) -> dict[str, str]:
    """Question id → ``dev`` or ``test``."""
    if not path.is_file():
        raise EvalError(f"Splitsbestand '{path}' niet gevonden; maak het met: python -m evals.split")
    raw = json.loads(path.read_text(encoding="utf-8"))
    return {qid: name for name in SPLITS for qid in raw[name]}


def select_split(questions: list[Question], split: str | None, path: Path = SPLIT_PATH) -> list[Question]:
    """The questions of one split (``dev``/``test``); all of them for ``None`` or ``all``."""
    if split in (None, "all"):
        return questions
    if split not in SPLITS:
        raise EvalError(f"Onbekende split '{split}'. Kies dev, test of all.")
    assigned = load_split(path)
    missing = [q.id for q in questions if q.id not in assigned]
    if missing:
        raise EvalError(
            f"{len(missing)} vraag/vragen staan niet in {path.name} (bv. {missing[0]}); draai: python -m evals.split"
        )
    return [q for q in questions if assigned[q.id] == split]


def assign(files: dict[str, list[Question]], existing: dict[str, str]) -> dict[str, str]:
    """Keep ``existing`` assignments; deal out new ids alternately per (file, type) stratum."""
    result = dict(existing)
    strata: dict[tuple[str, str], list[str]] = defaultdict(list)
    for name, questions in files.items():
        for q in questions:
            strata[(name, q.type)].append(q.id)
    for ids in strata.values():
        counts = {s: sum(1 for i in ids if existing.get(i) == s) for s in SPLITS}
        for qid in sorted((i for i in ids if i not in existing), key=_order):
            # the split with fewer members of this stratum gets the next id (test on a tie)
            chosen = "dev" if counts["dev"] < counts["test"] else "test"
            result[qid] = chosen
            counts[chosen] += 1
    return result


def main(argv: list[str] | None = None) -> int:
    files = {p.name: load_questions(p) for p in QUESTION_FILES if p.is_file()}
    existing = load_split() if SPLIT_PATH.is_file() else {}
    known = {q.id for qs in files.values() for q in qs}
    assigned = {qid: s for qid, s in assign(files, existing).items() if qid in known}
    payload = {
        "how": __doc__.strip().split("\n\n")[1].replace("\n", " "),
        "salt": SALT,
        "files": sorted(files),
        **{s: sorted(qid for qid, v in assigned.items() if v == s) for s in SPLITS},
    }
    SPLIT_PATH.write_text(json.dumps(payload, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"{SPLIT_PATH.name}: dev {len(payload['dev'])}, test {len(payload['test'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
