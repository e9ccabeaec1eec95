"""Personal data in ingested documents: the block-level guard.

The patterns, checks (11-proef, mod-97) and redaction live in :mod:`kb.privacy.pii`, shared by ingest,
questions, feedback and the chat app; this module applies them to a document's blocks.
"""

from __future__ import annotations

from ingest.loaders import Block
from kb.privacy.pii import (  # noqa: F401  (re-exported: the ingest side's one import for personal data)
    LABELS,
    POLICIES,
    Finding,
    guard_metadata,
    kinds_in,
    name_findings,
    neutral_id,
    redact,
    redact_name,
    redact_text,
    refuse_if,
    spans,
    summarize,
    valid_bsn,
    valid_iban,
)


def scan_blocks(blocks: list[Block]) -> list[Finding]:
    findings = []
    for number, block in enumerate(blocks, start=1):
        findings.extend(redact_text(block.text, _where(block, number), document=True)[1])
    return findings


def _where(block: Block, number: int) -> str:
    return f"p. {block.page}" if block.page else f"alinea {number}"


def redact_blocks(blocks: list[Block]) -> list[Block]:
    return [Block(redact(block.text, document=True), block.kind, block.level, block.page) for block in blocks]


def guard(blocks: list[Block], policy: str) -> tuple[list[Block], list[Finding]]:
    """Apply the personal-data policy: 'redact' (default), 'refuse' or 'off'."""
    if policy == "off":
        return blocks, []
    findings = scan_blocks(blocks)
    if not findings:
        return blocks, []
    refuse_if(findings, policy)
    return redact_blocks(blocks), findings
