"""A junk stress set made from the sample corpus: what a growing knowledge base also receives.

``python -m evals.junk DIR`` (or :func:`write_junk_set`) writes four kinds of low-value file:

- ``junk-herhaling.txt``: one word repeated (about 600 KB);
- ``junk-husselwoorden.txt``: the words of a real handreiking in random order (about 200 KB);
- ``junk-tabel-getallen.txt``: a table flattened to numbers;
- ``junk-kopie-N.txt``: near-duplicate copies of a real document (a few words changed).

Adding them must not change any answer about the sample corpus (``kb eval run --grow DIR``).
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

from evals.paths import CORPUS

SEED = 20261203


def write_junk_set(out_dir: Path, corpus_dir: Path = CORPUS, scale: float = 1.0) -> list[Path]:
    """Write the junk files into ``out_dir``; ``scale`` shrinks the large ones (tests use < 1)."""
    rng = random.Random(SEED)
    out_dir.mkdir(parents=True, exist_ok=True)
    texts = sorted(corpus_dir.glob("*.txt"))
    handreiking = max(texts, key=lambda p: p.stat().st_size).read_text(encoding="utf-8")
    written = []

    repeat = out_dir / "junk-herhaling.txt"
    repeat.write_text(("inburgering " * int(50_000 * scale)).strip() + "\n", encoding="utf-8")
    written.append(repeat)

    words = handreiking.split()
    shuffled: list[str] = []
    while sum(len(w) + 1 for w in shuffled) < 200_000 * scale:
        batch = list(words)
        rng.shuffle(batch)
        shuffled.extend(batch)
    salad = out_dir / "junk-husselwoorden.txt"
    salad.write_text(
        "\n\n".join(" ".join(shuffled[i : i + 120]) for i in range(0, len(shuffled), 120)) + "\n", encoding="utf-8"
    )
    written.append(salad)

    rows = [" ".join(str(rng.randint(0, 99_999)) for _ in range(8)) for _ in range(int(2_000 * scale) or 1)]
    table = out_dir / "junk-tabel-getallen.txt"
    table.write_text("2021 2022 2023 2024 totaal\n" + "\n".join(rows) + "\n", encoding="utf-8")
    written.append(table)

    for n, source in enumerate(texts[:2], 1):
        copy_words = source.read_text(encoding="utf-8").split(" ")
        for _ in range(max(len(copy_words) // 200, 1)):  # change about one word in 200
            i = rng.randrange(len(copy_words))
            copy_words[i] = copy_words[i].upper() if rng.random() < 0.5 else copy_words[i] + ","
        path = out_dir / f"junk-kopie-{n}.txt"
        path.write_text(" ".join(copy_words), encoding="utf-8")
        written.append(path)
    return written


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("Gebruik: python -m evals.junk MAP", file=sys.stderr)
        return 2
    for path in write_junk_set(Path(argv[0])):
        print(f"{path} ({path.stat().st_size // 1024} KB)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
