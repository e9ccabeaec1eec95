"""Names of people after a salutation or a client word: "mevrouw Fatima el Amrani", "dhr. J. Bakker",
"mijn cliënt Ahmed Hassan", "klant Sanne Jansen".

A name without such a cue cannot be told from a place, a programme or a law without a list of
names, so only cued names are found. A name is one to five words on the cue's line: capitalised
words (``Amrani``, ``Yılmaz``, ``O'Neill``), initials (``J.``, ``J.P.``) and particles (``el``,
``van der``), ending in a capitalised word. A lower-case name in running text is not recognised
("mevrouw wil weten" is no name); file names are also read title-cased by :mod:`kb.privacy.pii`,
so there it is.

Typed text and documents are told apart (``document=``):

* In typed text (questions, feedback, the question log, file names) every cued name is redacted:
  whoever types "mevrouw" or "mijn klant" in a question is writing about a client.
* In a document a name after a client word is redacted too, and so is a name after a salutation,
  unless what follows marks a public person: a party, organisation or role in brackets ("De heer
  Azmani (VVD)"), "van de VVD", or a professional role after a comma ("mevrouw De Boer,
  klantmanager bij …"). Professionals quoted in published interviews are named without a
  salutation ("zegt Fatima el Amrani, klantmanager") and are never touched.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

_E = "(?:e|ë|e\u0308)"  # cliënt with a composed or a decomposed diaeresis
_SALUTATIONS = r"[Mm]evrouw|MEVROUW|[Mm]evr\.?|[Mm]w\.?|[Mm]ej\.?|[Mm]eneer|[Mm]ijnheer|[Dd]e\s+[Hh]eer|[Dd]hr\.?"
_CUE_END = r"(?=[^\S\n]|$)"
SALUTATION = re.compile(rf"(?<![\w.])(?:{_SALUTATIONS}){_CUE_END}")
CLIENT_WORD = re.compile(
    rf"(?<![\w-])(?:[Cc]li{_E}nte?|[Kk]lant|[Ii]nburgeraar|[Ii]nburgeringsplichtige|[Ss]tatushouder|"
    rf"[Aa]anvrager|[Aa]anvraagster|[Bb]elanghebbende|[Bb]etrokkene|[Dd]eelnemer|[Dd]eelneemster)"
    rf"(?:[^\S\n]+(?:{_SALUTATIONS}))?{_CUE_END}"
)
PARTICLES = frozenset([
    "van", "de", "der", "den", "het", "ter", "ten", "te", "el", "al", "la", "le", "du", "da", "di", "dos", "das",
    "von", "zu", "bin", "ben", "ibn", "abu", "'t", "’t",
])  # fmt: skip
# Capitalised words that follow a cue without being a name ("de klant Nederlands leren", "Klant In Beeld"),
# then the words of a redacted file name ("klant-naam-verwijderd"), which stay as they are.
NOT_NAMES = frozenset([
    "een", "en", "of", "die", "dat", "dit", "deze", "is", "was", "wil", "heeft", "had", "kan", "mag", "moet",
    "zal", "zou", "krijgt", "kreeg", "gaat", "komt", "woont", "werkt", "zegt", "vraagt", "wordt", "werd", "met",
    "voor", "bij", "op", "in", "aan", "uit", "naar", "over", "om", "tot", "na", "als", "dan", "ook", "niet", "nog",
    "wel", "geen", "ik", "u", "uw", "hij", "zij", "ze", "wij", "we", "zijn", "haar", "hem", "hun", "ons", "onze",
    "mijn", "centraal", "centrale", "nederlands", "nederland", "engels", "arabisch", "turks", "pools", "frans",
    "duits", "spaans", "russisch", "oekraïens", "tigrinya", "farsi", "dari", "somalisch", "koerdisch", "wet",
    "gemeente", "maandag", "dinsdag", "woensdag", "donderdag", "vrijdag", "zaterdag", "zondag", "januari",
    "februari", "maart", "april", "mei", "juni", "juli", "augustus", "september", "oktober", "november",
    "december", "pdf", "docx", "doc", "md", "txt", "html",
    "naam", "verwijderd", "kenteken", "telefoonnummer", "geboortedatum", "postcode", "adres", "iban", "bsn",
    "e-mailadres", "id-nummer", "v-nummer", "vreemdelingennummer",
])  # fmt: skip
_FIRST_GAP = re.compile(r"[^\S\n]+")
_TOKEN = re.compile(r"[^\S\n]*(?:(?P<initials>[^\W\d_](?:\.[^\W\d_])*\.)|(?P<word>[^\W\d_]+(?:['’-][^\W\d_]+)*)(?!\w))")
_ROLE = (
    r"\w*(?:manager|adviseur|medewerker|consulent|co[öo]rdinator|leider|trekker|directeur|docent|coach|"
    r"regisseur|specialist|jurist|onderzoeker|voorzitter|woordvoerder|ambtenaar|begeleider)|wethouder|minister|"
    r"staatssecretaris|burgemeester|[Kk]amerlid|raadslid|gedeputeerde|advocaat|hoofd|lid|namens|werkzaam"
)
_PARTY = r"[A-Z][A-Z0-9]+|GroenLinks|ChristenUnie|PvdA|PvdD|Volt|Denk"
PUBLIC_AFTER = re.compile(
    rf"[^\S\n]*\([^\S\n]*(?:[A-Z]|(?:{_ROLE})\b)[^()\n]{{0,60}}\)"
    rf"|[^\S\n]+van[^\S\n]+(?:de[^\S\n]+|het[^\S\n]+)?(?:{_PARTY})\b"
    rf"|[^\S\n]*,[^\S\n]*(?:de[^\S\n]+|onze[^\S\n]+|senior[^\S\n]+)?(?:{_ROLE})\b"
)
# "het Kamerlid mevr. Podt", "minister mw. Van Gennip": a public role right before the salutation
PUBLIC_BEFORE = re.compile(rf"(?:{_ROLE})[^\S\n]+$")
_SENTENCE_START = re.compile(r"(?:^|[.!?:;(\"'“‘‚]|\n)[^\S\n]*$")
MAX_WORDS = 5


def _is_name_word(word: str) -> bool:
    parts = re.split(r"['’-]", word.lower())
    if "verwijderd" in parts:
        return False  # "naam-verwijderd-ebae": a name that was redacted already, with its id's hash
    return word[0].isupper() and any(ch.islower() for ch in word) and not all(p in NOT_NAMES for p in parts)


def _name_after(text: str, start: int, after_salutation: bool, in_name: bool = False) -> tuple[int, int] | None:
    """The span of the name right after a cue that ends at ``start``, or ``None``.

    The name may start with a lower-case particle only after a salutation ("mevrouw van Dijk";
    "de klant van Vluchtelingenwerk" names an organisation) and never ends in one. In a file name
    a single capital is an initial whose dot was lost ("dhr-j-bakker").
    """
    gap = _FIRST_GAP.match(text, start)
    if not gap:
        return None
    position, first, end = gap.end(), -1, -1
    for _ in range(MAX_WORDS):
        m = _TOKEN.match(text, position)
        if not m:
            break
        word = m.group("word") or ""
        if m.group("initials") or (in_name and len(word) == 1):
            if not (m.group("initials") or word)[0].isupper():
                break
            ends_name = True
        elif word.lower() in PARTICLES:
            if first == -1 and word[0].islower() and not after_salutation:
                break
            ends_name = False
        elif _is_name_word(word):
            ends_name = True
        else:
            break
        if first == -1:
            first = m.start("word") if word else m.start("initials")
        if ends_name:
            end = m.end()
        position = m.end()
    return (first, end) if first != -1 and end > first else None


def name_spans(text: str, document: bool = False, in_name: bool = False) -> Iterator[tuple[int, int]]:
    """(start, end) of every cued name in ``text``; the cue stays ("mevrouw [naam verwijderd]").

    A capitalised client word in running text is a cue only where a sentence starts: mid-sentence it
    belongs to a proper name ("het Klant Contact Centrum"). ``in_name``: ``text`` is a title-cased
    file name, where every word is capitalised.
    """
    for m in CLIENT_WORD.finditer(text):
        if m.group(0)[0].isupper() and not in_name and not _SENTENCE_START.search(text, 0, m.start()):
            continue
        found = _name_after(text, m.end(), bool(SALUTATION.search(m.group(0))), in_name)
        if found:
            yield found
    for m in SALUTATION.finditer(text):
        found = _name_after(text, m.end(), True, in_name)
        if not found:
            continue
        public = PUBLIC_AFTER.match(text, found[1]) or PUBLIC_BEFORE.search(text, max(0, m.start() - 40), m.start())
        if not (document and public):
            yield found  # in a document, "De heer Azmani (VVD)" and "het Kamerlid mevr. Podt" are public persons
