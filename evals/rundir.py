"""Reading a finished run folder (``results.jsonl`` + ``summary.json``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from evals.errors import EvalError


def load_summary(run_dir: Path) -> dict[str, Any]:
    """The run's ``summary.json``; raises :class:`EvalError` when the folder holds no finished run."""
    path = run_dir / "summary.json"
    if not path.is_file():
        raise EvalError(
            f"Geen summary.json in '{run_dir}'. Draai eerst: kb eval run evals/questions.jsonl --out {run_dir}"
        )
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise EvalError(f"'{path}' is geen geldige JSON ({exc.msg}, regel {exc.lineno}).") from None


def load_results(run_dir: Path) -> list[dict[str, Any]]:
    """The run's per-question records (all systems)."""
    path = run_dir / "results.jsonl"
    if not path.is_file():
        raise EvalError(
            f"Geen results.jsonl in '{run_dir}'. Draai eerst: kb eval run evals/questions.jsonl --out {run_dir}"
        )
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
