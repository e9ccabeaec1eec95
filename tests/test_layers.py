"""Layers point one way, and importing the packages leaves the caller's environment alone.

The pipeline reads off the folders: ``ingest`` → ``kb.index`` → ``kb.search`` → ``kb.answer`` →
the facade (``kb.service``) → the app (``kb.chat``, ``kb.cli``); ``evals`` sits beside the app.
Each module belongs to one layer; a layer imports only layers below it (and its own package).
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# layer name → (rank, module prefixes). A module's layer is its longest matching prefix.
LAYERS: dict[str, tuple[int, tuple[str, ...]]] = {
    "base": (0, ("kb", "kb.errors", "kb.offline", "kb.filetypes", "kb.validity", "kb.config", "kb.embeddings", "kb.clicommon")),
    "nl": (1, ("kb.nl",)),
    "privacy": (2, ("kb.privacy",)),
    "records": (3, ("kb.records",)),
    "index": (4, ("kb.index",)),
    "ingest": (5, ("ingest",)),
    "search": (5, ("kb.search",)),
    "answer": (6, ("kb.answer",)),
    "facade": (7, ("kb.service", "kb.feedback", "kb.erasure", "kb.questions_log", "kb.gaps")),
    "evals": (8, ("evals",)),
    "app": (8, ("kb.chat", "kb.cli")),
}
# The CLI and the app may import evals for their eval commands: an edge, not the core.
ALLOWED_EDGES = {("app", "evals")}
LIBRARY = {"base", "nl", "privacy", "records", "index", "ingest", "search", "answer", "facade"}


def layer_of(module: str) -> str | None:
    best, best_len = None, -1
    for name, (_rank, prefixes) in LAYERS.items():
        for p in prefixes:
            if (module == p or module.startswith(p + ".")) and len(p) > best_len:
                best, best_len = name, len(p)
    return best


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Every project module ``path`` imports, at any depth of the file (lazy imports count)."""
    found: set[str] = set()
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{a.name}" for a in node.names)  # ``from kb.index import store``
    return {m for m in found if m.split(".")[0] in {"kb", "ingest", "evals"}}


def project_files() -> list[Path]:
    return [p for d in ("kb", "ingest", "evals") for p in sorted((REPO / d).rglob("*.py"))]


def edges() -> list[tuple[str, str, str, str]]:
    """(module, its layer, imported module, that layer) for every import between layers."""
    out = []
    for path in project_files():
        src = module_name(path)
        for target in imports_of(path):
            a, b = layer_of(src), layer_of(target)
            if a is not None and b is not None and a != b:
                out.append((src, a, target, b))
    return out


def test_every_module_has_a_layer():
    assert [module_name(p) for p in project_files() if layer_of(module_name(p)) is None] == []


def test_layers_import_only_downwards():
    wrong = [
        f"{src} ({a}) imports {dst} ({b})"
        for src, a, dst, b in edges()
        if LAYERS[b][0] >= LAYERS[a][0] and (a, b) not in ALLOWED_EDGES
    ]
    assert wrong == []


def test_the_library_core_never_imports_the_app_or_evals():
    wrong = [f"{src} imports {dst}" for src, a, dst, b in edges() if a in LIBRARY and b in {"app", "evals"}]
    assert wrong == []


def test_ingest_and_search_and_answer_stand_on_the_index_not_on_each_other():
    wrong = [
        f"{src} imports {dst}"
        for src, a, dst, b in edges()
        if (a, b) in {("ingest", "search"), ("ingest", "answer"), ("search", "ingest"), ("answer", "ingest")}
        or (a in {"index", "search"} and b == "answer")
    ]
    assert wrong == []


def test_only_the_facade_imports_ingest():
    users = sorted({src for src, a, _dst, b in edges() if b == "ingest" and a in LIBRARY})
    assert users == ["kb.service"]


def test_evals_never_imports_the_app():
    assert [f"{s} imports {d}" for s, a, d, b in edges() if a == "evals" and b == "app"] == []


def test_the_checker_sees_a_wrong_import(tmp_path, monkeypatch):
    """The rules above can fail: a store module that imports the chat app is caught."""
    fake = REPO / "kb" / "index" / "_layer_probe.py"
    fake.write_text("from kb.chat import app  # noqa\n", encoding="utf-8")
    try:
        found = [(s, d) for s, a, d, b in edges() if s == "kb.index._layer_probe"]
        assert ("kb.index._layer_probe", "kb.chat") in found or ("kb.index._layer_probe", "kb.chat.app") in found
    finally:
        fake.unlink()


def _functions(path: Path):
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield node.name, node.end_lineno - node.lineno + 1


def test_no_function_in_the_chat_app_is_over_80_lines():
    long = [
        f"{p.relative_to(REPO)}:{name} ({n} lines)"
        for p in sorted((REPO / "kb" / "chat").rglob("*.py"))
        for name, n in _functions(p)
        if n > 80
    ]
    assert long == []


def test_importing_kb_and_ingest_does_not_change_the_environment():
    """Regression: ``import kb`` set HF_HUB_OFFLINE and friends as a side effect."""
    from kb.offline import OFFLINE_ENV

    env = {k: v for k, v in os.environ.items() if k not in OFFLINE_ENV}
    env["PYTHONPATH"] = str(REPO)
    code = (
        "import json, os; before = dict(os.environ)\n"
        "import kb, ingest, kb.cli, kb.index.store, kb.index.schema, kb.filetypes, kb.records, ingest.loaders\n"
        "print(json.dumps({k: v for k, v in os.environ.items() if before.get(k) != v}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=REPO, check=True)
    assert json.loads(out.stdout) == {}
