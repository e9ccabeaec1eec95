"""Issue 20, part 3: the 31 written forms of personal data of the attacker's probe, as written.

11 of them stayed at rest unredacted on main (BSN with slashes or digit by digit, ``06 - 1234 5678``,
``documentnummer XR9876543``, the plates ``12-ABC-3`` and ``GH-123-J``, names after "mevrouw" and
"de heer", and such a name in a file name, which became the document id). Each form is checked
where the probe looked: in ``chroma.sqlite3`` (every file of the data folder, read as bytes) after
a real ingest, in ``kb ask --json`` (as document text and as part of the question), in a stored 👎
comment, and in a file name and the document id made from it.
"""

from __future__ import annotations

import json
import os
import random
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from ingest.pipeline import prepare_document
from kb.cli import main
from kb.config import Settings
from kb.feedback import record_feedback
from kb.privacy.pii import name_has_personal_data, neutral_id, redact, redact_name, spans
from kb.service import build_kb

# form id -> (the form as the probe wrote it, the part that must never come back). BSNs pass the
# 11-proef, IBANs mod 97; every value is made up.
FORMS: dict[str, tuple[str, str]] = {
    "bsn-bare": ("BSN 836859790", "836859790"),
    "bsn-dots": ("656.036.783", "656.036.783"),
    "bsn-dashes": ("404-376-198", "404-376-198"),
    "bsn-spaces": ("393 993 322", "393 993 322"),
    "bsn-slashes": ("123/456/782", "123/456/782"),
    "bsn-digit-by-digit": ("1 2 3 4 5 6 7 8 2", "1 2 3 4 5 6 7 8 2"),
    "mobile-dash": ("06-41237856", "06-41237856"),
    "mobile-spaced-dash": ("06 - 1234 5678", "06 - 1234 5678"),
    "mobile-plus31": ("+31 6 23456789", "6 23456789"),
    "mobile-0031": ("0031 6 3456 7890", "6 3456 7890"),
    "mobile-plus31-zero": ("+31 (0)6 45 67 89 01", "45 67 89 01"),
    "iban-compact": ("NL91ABNA0417164300", "NL91ABNA0417164300"),
    "iban-spaced": ("NL69 INGB 0123 4567 89", "NL69 INGB 0123 4567 89"),
    "iban-lower-foreign": ("be68 5390 0754 7034", "be68 5390 0754 7034"),
    "email": ("f.elamrani@gmail.com", "f.elamrani@gmail.com"),
    "street-house-number": ("Kerkstraat 12a", "Kerkstraat 12a"),
    "postcode-house-number": ("3511 AB 14", "3511 AB 14"),
    "birth-words": ("geboren op 3 maart 1990", "3 maart 1990"),
    "birth-digits": ("geb. 14-02-1988", "14-02-1988"),
    "documentnummer": ("documentnummer XR9876543", "XR9876543"),
    "paspoortnummer": ("paspoortnummer NXR4K12P7", "NXR4K12P7"),
    "id-kaart": ("ID-kaart IR5K82L91", "IR5K82L91"),
    "v-nummer": ("V-nummer 2345678901", "2345678901"),
    "plate-sidecode-7": ("12-ABC-3", "12-ABC-3"),
    "plate-sidecode-9": ("GH-123-J", "GH-123-J"),
    "mevrouw": ("mevrouw Fatima el Amrani", "Fatima el Amrani"),
    "mw": ("mw. Yilmaz", "Yilmaz"),
    "de-heer": ("de heer Pieter de Vries", "Pieter de Vries"),
    "dhr": ("dhr. J. Bakker", "Bakker"),
    "mijn-client": ("mijn cliënt Ahmed Hassan", "Ahmed Hassan"),
    "klant": ("klant Sanne Jansen", "Sanne Jansen"),
}
NAME_FORMS = {"mevrouw", "mw", "de-heer", "dhr", "mijn-client", "klant"}
WORDS = [
    "leerroute", "taalschool", "klantmanager", "opstartklas", "reiskosten", "participatieverklaring", "werkervaring",
    "taalniveau", "gezinsmigrant", "huisvesting", "begeleiding", "ontzorgen", "kinderopvang", "examen",
    "vrijstelling", "module", "arbeidsmarkt", "vrijwilligerswerk", "mentor", "budget", "planning",
]  # fmt: skip


def test_the_probe_had_31_forms():
    assert len(FORMS) == 31 and len({form for form, _v in FORMS.values()}) == 31


def needles(form_id: str) -> set[str]:
    """How the value may come back: as written, without separators, as a slug; a name also word by word."""
    value = FORMS[form_id][1].lower()
    found = {value, re.sub(r"[\s./()+-]", "", value), re.sub(r"[^a-z0-9]+", "-", value).strip("-")}
    if form_id in NAME_FORMS:
        found |= {word for word in re.findall(r"\w+", value) if len(word) > 3}
    return found


def assert_absent(form_id: str, haystack: str, where: str) -> None:
    lowered = haystack.lower()
    for needle in needles(form_id):
        assert needle not in lowered, f"{FORMS[form_id][0]!r} ({needle!r}) found in {where}"


def file_name(form: str) -> str:
    """The form in a file name (no file name holds a '/')."""
    return f"intake {form.replace('/', '_')}.md"


def topic(seed: int) -> str:
    """Distinct text per document, so the retriever keeps every one."""
    return "De klantmanager bespreekt " + " ".join(random.Random(seed).sample(WORDS, 14)) + "."


@pytest.fixture(scope="module")
def probe_corpus(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("probe")
    for number, (form_id, (form, _value)) in enumerate(FORMS.items()):
        (folder / f"tekst-{form_id}.md").write_text(
            f"# Casus {form_id}\n\nIn het dossier staat {form} genoteerd. {topic(2 * number)}\n", encoding="utf-8"
        )
        (folder / file_name(form)).write_text(f"# Dossier\n\n{topic(2 * number + 1)}\n", encoding="utf-8")
    (folder / "interview.md").write_text(
        '# Interview\n\nDe heer Azmani (VVD) vroeg naar de taaleis. "Wij plannen eerst een intake," zegt '
        "Ingrid Hoekstra, klantmanager bij de gemeente Zwolle.\n",
        encoding="utf-8",
    )
    return folder


@pytest.fixture(scope="module")
def probe(probe_corpus, tmp_path_factory, e5):
    """Ingest the probe's files into a real index, then ask over the CLI as the probe did."""
    umask = os.umask(0o022)
    os.umask(umask)  # the CLI makes the umask private; the other tests get theirs back afterwards
    try:
        data = tmp_path_factory.mktemp("probe-data") / "data"
        kb = build_kb(Settings().with_(data_dir=data, corpus_dir=probe_corpus), embedding=e5)
        report = kb.ingest([probe_corpus])
        env = {"KB_DATA_DIR": str(data)}
        runner = CliRunner()
        everything = runner.invoke(main, ["ask", "--json", "-k", "100", "Wat bespreekt de klantmanager?"], env=env)
        assert everything.exit_code == 0, everything.output
        forms = [form for form, _v in FORMS.values()]
        asked = []
        for half in (forms[:16], forms[16:]):
            question = " ".join(f"Geldt dit voor {form}?" for form in half)
            result = runner.invoke(main, ["ask", "--json", question], env=env)
            assert result.exit_code == 0, result.output
            asked.append(json.loads(result.output))
        listed = runner.invoke(main, ["docs", "list", "--json"], env=env)
        at_rest = "\n".join(p.read_bytes().decode("latin-1") for p in sorted(data.rglob("*")) if p.is_file())
        yield {
            "report": report,
            "kb": kb,
            "at_rest": at_rest,
            "asked_documents": everything.output,
            "asked_questions": json.dumps(asked, ensure_ascii=False),
            "questions": [a["question"] for a in asked],
            "documents": listed.output,
            "data": data,
        }
    finally:
        os.umask(umask)


@pytest.mark.slow
def test_every_probe_file_was_indexed_and_retrieved(probe):
    assert probe["report"].count("added") == 2 * len(FORMS) + 1, probe["report"].to_dict()
    retrieved = json.loads(probe["asked_documents"])["retrieved"]
    assert len({p["doc_id"] for p in retrieved}) == 2 * len(FORMS) + 1


@pytest.mark.slow
@pytest.mark.parametrize("form_id", list(FORMS))
def test_form_is_redacted_at_rest_in_the_index(probe, form_id):
    """The probe read chroma.sqlite3; every file of the data folder is read here."""
    assert "chroma.sqlite3" in {p.name for p in probe["data"].rglob("*")}
    assert_absent(form_id, probe["at_rest"], "the data folder")


@pytest.mark.slow
@pytest.mark.parametrize("form_id", list(FORMS))
def test_form_is_redacted_in_kb_ask_json(probe, form_id):
    assert_absent(form_id, probe["asked_documents"], "kb ask --json (documents)")
    assert_absent(form_id, probe["asked_questions"], "kb ask --json (question)")


@pytest.mark.slow
def test_the_question_keeps_its_words_and_says_what_was_removed(probe):
    first, second = probe["questions"]
    assert first.count("Geldt dit voor") == 16 and second.count("Geldt dit voor") == 15
    assert first.count("verwijderd]") == 16 and second.count("verwijderd]") == 15
    assert "mevrouw [naam verwijderd]" in second and "[kenteken verwijderd]" in second


@pytest.mark.slow
@pytest.mark.parametrize("form_id", list(FORMS))
def test_form_in_a_file_name_never_reaches_the_document_id(probe, form_id):
    """The id lands in audit.jsonl, uploaded.json, feedback.jsonl and every chat user's titles."""
    form = FORMS[form_id][0]
    [result] = [r for r in probe["report"].results if Path(r.path).name == file_name(form)]
    assert "bestandsnaam" in result.privacy and "verwijderd" in result.doc_id
    for where, text in (("doc id", result.doc_id), ("shown name", result.name), ("kb docs list", probe["documents"])):
        assert_absent(form_id, text, where)


@pytest.mark.slow
def test_document_text_keeps_public_names_and_a_question_does_not(probe):
    """A professional quoted in a published interview, and a member of parliament with his party, stay
    in a document; typed into a question, a name after "de heer" is removed all the same."""
    [interview] = [r for r in probe["report"].results if Path(r.path).name == "interview.md"]
    stored = " ".join(
        t
        for _i, md, t, _e in probe["kb"].store.iter_records(include=["documents", "metadatas"])
        if md.get("doc_id") == interview.doc_id
    )
    assert "De heer Azmani (VVD)" in stored and "zegt Ingrid Hoekstra, klantmanager" in stored
    assert redact("Wat vroeg de heer Azmani (VVD)?") == "Wat vroeg de heer [naam verwijderd] (VVD)?"


@pytest.mark.parametrize("form_id", list(FORMS))
def test_form_is_redacted_in_a_stored_thumbs_down_comment(tmp_path, form_id):
    form = FORMS[form_id][0]
    path = tmp_path / "feedback.jsonl"
    record = record_feedback(path, f"Geldt dit voor {form}?", "Antwoord.", [], "down", f"Klopt niet voor {form}")
    stored = path.read_text(encoding="utf-8")
    assert_absent(form_id, stored, "feedback.jsonl")
    assert record["comment"].startswith("Klopt niet voor ") and "verwijderd]" in record["comment"]


@pytest.mark.parametrize("form_id", list(FORMS))
def test_form_in_a_file_name_is_redacted_however_it_is_written(tmp_path, form_id):
    """As typed, lower case with hyphens (a slug), with underscores; with KB_PII_POLICY=off the id is
    neutral too."""
    form = FORMS[form_id][0]
    written = file_name(form)
    for name in (written, written.lower().replace(" ", "-"), written.replace(" ", "_")):
        shown = redact_name(name)
        assert_absent(form_id, shown, name)
        assert redact_name(shown) == shown and not name_has_personal_data(neutral_id(Path(name).stem))
    path = tmp_path / written.lower().replace(" ", "-")
    path.write_text("# Dossier\n\nDe klantmanager plant een driegesprek met de taalschool.\n", encoding="utf-8")
    for policy in ("redact", "off"):
        doc_id = prepare_document(path, 1_048_576, pii_policy=policy).meta.doc_id
        assert "verwijderd" in doc_id, (policy, doc_id)
        assert_absent(form_id, doc_id, f"doc id ({policy})")


@pytest.mark.parametrize(
    "plate",
    [
        "PD-12-34", "12-34-PD", "12-PD-34", "PD-12-ZX", "PD-ZX-12", "12-PD-ZX", "12-PDZ-3",
        "1-PDZ-23", "PD-123-Z", "P-123-DZ", "PDZ-12-X", "P-12-DZX", "1-PD-234", "123-PD-4",
    ],
)  # fmt: skip
def test_number_plates_in_every_rdw_side_code(plate):
    """Side codes 1 to 14, in order."""
    assert redact(f"De auto met kenteken {plate} staat op naam van de klant.") == (
        "De auto met kenteken [kenteken verwijderd] staat op naam van de klant."
    )
    assert redact(f"Auto {plate} gezien.") == "Auto [kenteken verwijderd] gezien."
    compact = plate.replace("-", "").lower()
    assert redact(f"kenteken {compact}") == "kenteken [kenteken verwijderd]"


@pytest.mark.parametrize(
    "text",
    [
        "Na het B1-niveau volgt A2-B1; NT2-examen; COVID-19; Wi2021; ECLI:NL:CRVB:2024:2194; kst-32824-370.",
        "Mevrouw wil weten of de klant Nederlands moet leren; de klant van Vluchtelingenwerk belt terug.",
        "Bel het Klant Contact Centrum van de gemeente.",
        "Zegt Fatima el Amrani, klantmanager bij de gemeente: de klant krijgt een vaste contactpersoon.",
        "Telefoonnummers 0800 123 456 78 en tabel 1 2 3 4 5 6 7 8 9.",
        "Zie bijlage 12/34 en de versie van 1-2-2021; dossier 2021-AB-12.",
    ],
)
def test_ordinary_text_survives(text):
    assert spans(text, document=True) == [], [text[s:e] for s, e, _k, _h in spans(text, document=True)]


@pytest.mark.parametrize(
    "text",
    ["De heer Azmani (VVD): ik vraag het de minister.", "Het woord is aan de heer Azmani van de VVD.",
     "Mevrouw De Boer, klantmanager bij de gemeente Zwolle, legt het uit."],
)  # fmt: skip
def test_a_document_keeps_public_persons_after_a_salutation_a_question_does_not(text):
    assert spans(text, document=True) == []
    assert "[naam verwijderd]" in redact(text)


def test_a_public_role_before_the_salutation_keeps_the_name_in_a_document():
    """Regression: "het Kamerlid mevr. Podt" in a Kamerbrief lost the Kamerlid's name."""
    from kb.privacy.names import name_spans

    text = "In dit kader heeft het Kamerlid mevr. Podt gevraagd te onderzoeken waar het knelt."
    assert list(name_spans(text, document=True)) == []
    assert [text[a:b] for a, b in name_spans(text)] == ["Podt"]  # typed by a caseworker: redacted
