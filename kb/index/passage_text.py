"""What is embedded for a passage, and a fingerprint of everything that shapes that embedding.

``embed_input`` lives in ``kb`` (not ``ingest``) because both sides use it: ingest embeds
its output and the retriever BM25-indexes it. The fingerprint (model, chunker version,
``embed_input`` version and its output on a fixed probe) and the per-passage input hashes
let ingest tell whether a stored vector is what the current code would make: the
fingerprint catches a changed model, chunker or format, the input hashes catch a change
that only shows on some passages (the probe cannot see every case).
"""

from __future__ import annotations

import hashlib

# Raise when the *meaning* of embed_input changes in a way the probe below might not show.
EMBED_INPUT_VERSION = "1"
# A fixed passage run through embed_input: any change to the format changes its hash.
_PROBE = ("Titel van het document", "Hoofdstuk › Paragraaf", "De tekst van een passage.")


def embed_input(title: str, section: str, text: str) -> str:
    """What is embedded and BM25-indexed for a chunk: its text with title and heading as context."""
    head = f"{title} — {section}" if section else title
    return f"{head}\n{text}"


def input_hash(text: str) -> str:
    """Short hash of one embedded input string (embeddings are re-used only for an equal hash)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]


def inputs_digest(input_hashes: list[str]) -> str:
    """One hash over a document's embedded texts (in passage order); '' when one is unknown."""
    if not input_hashes or not all(input_hashes):
        return ""
    return hashlib.sha256("\x1f".join(input_hashes).encode("utf-8")).hexdigest()[:24]


def embedding_fingerprint(model_id: str, chunker_version: str, embed=None, version: str | None = None) -> str:
    """Hash of model id, chunker version and ``embed_input`` (version constant + probe output).

    ``embed``/``version`` default to the current :func:`embed_input` and
    :data:`EMBED_INPUT_VERSION` (looked up at call time); migrations pass the old ones.
    """
    embed = embed or globals()["embed_input"]
    version = EMBED_INPUT_VERSION if version is None else version
    probes = (embed(*_PROBE), embed(_PROBE[0], "", _PROBE[2]))
    payload = "\x1f".join((model_id, chunker_version, version, *probes))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]
