"""Layers point one way, and importing the packages leaves the caller's environment alone."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
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


def test_importing_kb_and_ingest_does_not_change_the_environment():
    """Regression: ``import kb`` set HF_HUB_OFFLINE and friends as a side effect."""
    from kb.offline import OFFLINE_ENV

    env = {k: v for k, v in os.environ.items() if k not in OFFLINE_ENV}
    env["PYTHONPATH"] = str(REPO)
    code = (
        "import json, os; before = dict(os.environ)\n"
        "import kb, ingest, kb.cli, kb.store, kb.schema, kb.filetypes, kb.records, ingest.loaders\n"
        "print(json.dumps({k: v for k, v in os.environ.items() if before.get(k) != v}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=REPO, check=True)
    assert json.loads(out.stdout) == {}
