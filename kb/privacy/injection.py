"""Text that addresses the assistant instead of the reader, and contact details in sentences.

A document is data. One that says "negeer alle eerdere instructies" or "bel 0900-… en geef
uw DigiD-wachtwoord door" is either an attack on the language model or a phishing text;
either way a CoP-trekker should look at it before caseworkers rely on it. Ingest reports
such passages (:func:`find_instructions`); verification never keeps a generated sentence
that asks for a secret (:func:`asks_for_secret`) or that brings a web address, phone
number or e-mail address its cited source does not have (:func:`contacts_in`).
"""

from __future__ import annotations

import re

from kb.nl.text import fold

SECRET = (
    r"(?:wachtwoord\w*|password\w*|passwd|digi-?d\w*|pin-?code\w*|pin\b|inlogcode\w*|inloggegevens|"
    r"tan-?code\w*|beveiligingscode\w*|verificatiecode\w*|sms-?code\w*|toegangscode\w*|credentials?)"
)
_ASK = (
    r"(?:geef|geeft|geven|deel|delen|deelt|stuur|sturen|stuurt|vul|vult|invullen|noem|noemt|vertel|vertelt|"
    r"door\s*geven|doorgeven|doorgeeft|mail|mailt|verstrek|verstrekt|opgeven|opgeeft|give|send|share|enter|"
    r"provide|tell|typ|typt)"
)
_YOUR = r"(?:uw|je|jouw|your|ons\s+uw|ons\s+je)\s+(?:[\w-]+\s+)?"
_NEGATION = re.compile(r"\b(?:nooit|niet|geen|never|not|don't|do not)\b", re.I)
_PATTERNS: dict[str, re.Pattern[str]] = {
    "negeer-instructies": re.compile(
        r"\b(?:negeer|vergeet|ignore|disregard|forget)\b\s+(?:[\w-]+\s+){0,3}?"
        r"(?:eerdere|vorige|voorgaande|bovenstaande|alle|previous|prior|above|all|your|je|jouw|uw)\b"
        r"[^.!?\n]{0,30}?\b(?:instructies?|opdrachten?|regels|prompts?|instructions?|rules|richtlijnen)\b",
        re.I,
    ),
    "rol-aan-de-assistent": re.compile(
        r"\b(?:je bent nu|jij bent nu|u bent nu een|you are now|act as|doe alsof je|"
        r"(?:systeem|system)[\s-]?(?:prompt|bericht|message)|"
        r"(?:aan|voor|to) (?:de|het|the) (?:assistent|taalmodel|ai|chatbot|language model|assistant)\b|"
        r"(?:assistent|taalmodel|chatbot|ai|assistant)\s*[,:]\s*(?:negeer|zeg|antwoord|geef|schrijf|ignore|say|answer))",
        re.I,
    ),
    "vraagt-om-geheim": re.compile(
        rf"\b{_ASK}\b[^.!?\n]{{0,40}}?\b{_YOUR}{SECRET}|\b{_YOUR}{SECRET}[^.!?\n]{{0,40}}?\b{_ASK}\b", re.I
    ),
    "bel-en-geef": re.compile(
        r"\b(?:bel|call|app|whatsapp)\b[^.!?\n]{0,60}?\b(?:en|and)\s+(?:geef|give|deel|noem|tell)\b\s+"
        rf"{_YOUR}[^.!?\n]{{0,30}}?(?:gegevens|nummer|code|bsn|iban|rekening|{SECRET})",
        re.I,
    ),
}
KINDS_NL = {
    "negeer-instructies": "vraagt eerdere instructies te negeren",
    "rol-aan-de-assistent": "richt zich tot de assistent",
    "vraagt-om-geheim": "vraagt om een wachtwoord, DigiD of pincode",
    "bel-en-geef": "vraagt te bellen en gegevens door te geven",
}

URL = re.compile(r"(?:\b(?:https?|ftp)://|\bwww\.)[^\s<>()\"'`]+[^\s<>()\"'`.,;:!?]", re.I)
EMAIL = re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b")
PHONE = re.compile(r"(?<![\w+])(?:\+|00)?\d(?:[\s.-]?\(?\d\)?){8,12}(?!\d)")


def _found(kind: str, text: str) -> bool:
    """A match of ``kind`` that is not a warning ("deel nooit uw wachtwoord")."""
    for m in _PATTERNS[kind].finditer(text or ""):
        around = text[max(0, m.start() - 20) : m.end() + 12]  # "deel nooit uw …", "deel uw … nooit"
        if kind in ("vraagt-om-geheim", "bel-en-geef") and _NEGATION.search(around):
            continue
        return True
    return False


def find_instructions(text: str) -> list[str]:
    """The kinds of instruction to an assistant found in ``text`` (see :data:`KINDS_NL`)."""
    return [kind for kind in _PATTERNS if _found(kind, text)]


def asks_for_secret(text: str) -> bool:
    """Does the sentence ask the reader for a password, DigiD, pincode or similar?"""
    return _found("vraagt-om-geheim", text)


def _phone_digits(value: str) -> str:
    digits = re.sub(r"\D", "", value)
    if digits.startswith("0031"):
        digits = "0" + digits[4:]
    elif digits.startswith("31") and value.lstrip().startswith("+"):
        digits = "0" + digits[2:]
    return digits


def contacts_in(text: str) -> set[str]:
    """Web addresses, e-mail addresses and phone numbers in ``text``, normalised for comparing."""
    found: set[str] = set()
    for m in URL.finditer(text or ""):
        found.add(
            "url:" + fold(re.sub(r"^(?:https?|ftp)://", "", m.group(0), flags=re.I)).removeprefix("www.").rstrip("/")
        )
    for m in EMAIL.finditer(text or ""):
        found.add("mail:" + m.group(0).lower())
    for m in PHONE.finditer(text or ""):
        digits = _phone_digits(m.group(0))
        if 9 <= len(digits) <= 12 and digits.startswith("0"):
            found.add("tel:" + digits)
    return found


def new_contacts(claim: str, source_text: str) -> set[str]:
    """Contact details in ``claim`` that ``source_text`` does not have."""
    known = contacts_in(source_text)
    plain = fold(source_text or "")
    return {c for c in contacts_in(claim) if c not in known and c.split(":", 1)[1] not in plain}
