"""Layers point one way."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_kb_imports_ingest_only_in_the_service_facade():
    offenders = []
    for path in sorted((REPO / "kb").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            if any(n == "ingest" or n.startswith("ingest.") for n in names):
                offenders.append(str(path.relative_to(REPO)))
    assert sorted(set(offenders)) == ["kb/service.py"]
