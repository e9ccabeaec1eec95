"""What kind of question this is: a definition, a list, a quantity or another question."""

from __future__ import annotations

from kb.nl.text import WORD

DEFINITION_OPENERS = ("wat is", "wat zijn", "wat houdt", "wat betekent", "wat bedoelen", "what is", "what are")
LIST_OPENERS = ("welke", "noem", "wat zijn de", "which", "what are")
QUANTITY_WORDS = ("hoeveel", "hoe lang", "hoe vaak", "hoe hoog", "wanneer", "how many", "how much", "how long", "when")


def question_kind(question: str) -> str:
    lowered = question.lower().lstrip("¿ ").strip()
    if lowered.startswith(DEFINITION_OPENERS) and len(WORD.findall(lowered)) <= 8:
        return "definition"
    if lowered.startswith(LIST_OPENERS):
        return "list"
    if any(w in lowered for w in QUANTITY_WORDS):
        return "quantity"
    return "other"
