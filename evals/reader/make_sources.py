"""Write evals/reader/SOURCES.md: every document the reader's examples use, with address and licence.

    python -m evals.reader.make_sources

New documents are listed in ``evals/reader/sources/*.jsonl`` by whoever collected them; the
sample corpus and the growth corpora are described where they live (their ``.meta.yaml``,
``evals/GROWTH_SOURCES.md``, ``../shared/GROWTH.md``) and each file names its address on its first
line (``Bron: ...``).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from evals.paths import REPO

HERE = REPO / "evals" / "reader"


def _first_source(path: Path) -> str:
    for line in path.read_text(encoding="utf-8").splitlines()[:3]:
        if line.startswith("Bron:"):
            return line[5:].strip()
    return ""


def rows() -> list[dict]:
    listed = {}
    for f in sorted((HERE / "sources").glob("*.jsonl")):
        for line in f.read_text(encoding="utf-8").splitlines():
            if line.strip():
                r = json.loads(line)
                listed[r["file"]] = r
    used = Counter()
    for f in sorted((HERE / "examples").glob("*.jsonl")):
        for line in f.read_text(encoding="utf-8").splitlines():
            if line.strip():
                used[json.loads(line)["doc"]] += 1
    out = []
    for doc, n in sorted(used.items()):
        path = (REPO / doc).resolve()
        if doc in listed:
            r = listed[doc]
            out.append({"doc": doc, "url": r["url"], "title": r["title"], "licence": r["licence"], "examples": n})
            continue
        meta = path.with_suffix(".meta.yaml")
        if meta.is_file():
            import yaml

            m = yaml.safe_load(meta.read_text(encoding="utf-8")) or {}
            out.append({"doc": doc, "url": str(m.get("url") or m.get("source") or "sample corpus (corpus/README)"),
                        "title": str(m.get("title", "")), "licence": "sample corpus of this project (Divosa publication)",
                        "examples": n})  # fmt: skip
            continue
        where = "evals/GROWTH_SOURCES.md" if doc.startswith("evals/growth/") else "../shared/GROWTH.md"
        out.append({"doc": doc, "url": _first_source(path), "title": path.stem,
                    "licence": f"public government text, see {where}", "examples": n})  # fmt: skip
    return out


def main() -> int:
    table = rows()
    lines = [
        "# Sources of the reader's training and test documents",
        "",
        f"{len(table)} documents, {sum(r['examples'] for r in table)} examples. Made by "
        "`python -m evals.reader.make_sources` from `evals/reader/sources/*.jsonl` and the corpora's own "
        "descriptions. Each document file starts with its address (`Bron:`).",
        "",
        "document | address | title | licence | examples",
        "---|---|---|---|---",
    ]
    lines += [f"{r['doc']} | {r['url']} | {r['title']} | {r['licence']} | {r['examples']}" for r in table]
    (HERE / "SOURCES.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"{len(table)} documents")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
