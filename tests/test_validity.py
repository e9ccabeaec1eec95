"""Validity as data: dates and regime from metadata and text, the caveat on every citation, and
the tie-break that puts the newer valid passage first."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from ingest.metadata import build_meta
from ingest.pipeline import prepare_document
from kb.index import schema
from kb.search.query import analyse_query
from kb.validity import Validity, caveat, date_range, format_date_nl, recency_key, regime_in_text

TODAY = date(2026, 12, 3)


# -- dates and regime -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "first", "last"),
    [
        ("2022-01-06", date(2022, 1, 6), date(2022, 1, 6)),
        ("2021-08", date(2021, 8, 1), date(2021, 8, 31)),
        ("2023", date(2023, 1, 1), date(2023, 12, 31)),
        ("06-01-2022", date(2022, 1, 6), date(2022, 1, 6)),
        ("voorjaar 2023", date(2023, 1, 1), date(2023, 12, 31)),
    ],
)
def test_stated_dates_become_the_days_they_can_mean(value, first, last):
    assert date_range(value) == (first, last)


@pytest.mark.parametrize("value", ["", "onbekend", "2021-13"])
def test_no_date_or_an_impossible_one_is_unknown(value):
    assert date_range(value) is None


def test_dates_in_dutch_words():
    assert format_date_nl("2021-08") == "augustus 2021"
    assert format_date_nl("2022-01-06") == "6 januari 2022"
    assert format_date_nl("2023") == "2023"
    assert format_date_nl("") == "datum onbekend"


def test_the_text_says_it_was_written_before_the_regime():
    text = (
        "LET OP Deze handreiking is geschreven vóór de inwerkingtreding van de Wet inburgering 2021 op 1 januari 2022."
    )
    assert regime_in_text(text) == ("Wi2021", True)
    assert regime_in_text("Onder de Wi2021 voert de gemeente de regie.") == ("Wi2021", False)
    # naming two regimes (or none) says nothing about which one the text is about
    assert regime_in_text("Anders dan onder de Wet inburgering 2013 voert onder de Wi2021 de gemeente regie.") == (
        "",
        False,
    )
    assert regime_in_text("Vóór de invoering van de Wi2021 had de gemeente al een pilot.") == ("Wi2021", False)


def test_metadata_names_the_regime_and_the_text_adds_that_it_predates_it(tmp_path: Path):
    path = tmp_path / "h.md"
    from_sidecar = build_meta(path, [{"regime": "wi 2021", "date": "2021-08"}], text_regime=("Wi2021", True))
    assert (from_sidecar.regime, from_sidecar.predates_regime) == ("Wi2021", True)
    other = build_meta(path, [{"regime": "Wi2013"}], text_regime=("Wi2021", True))
    assert (other.regime, other.predates_regime) == ("Wi2013", False)  # the text spoke of another law
    dated = build_meta(path, [{"valid_until": date(2024, 6, 30), "superseded_by": "handreiking-2024"}])
    assert (dated.valid_until, dated.superseded_by, dated.regime) == ("2024-06-30", "handreiking-2024", "")


def test_sample_handreiking_gets_its_regime_from_the_sidecar_and_text():
    prepared = prepare_document(Path(__file__).parent.parent / "corpus" / "002_91518734a33f3397.txt", 50 << 20)
    meta = prepared.meta
    assert (meta.date, meta.regime, meta.predates_regime) == ("2021-08", "Wi2021", True)


def test_a_passage_from_an_index_without_validity_fields_reads_as_unknown():
    """Records written before the validity fields (no new keys) decode without a migration."""
    old = {"doc_id": "a", "doc_hash": "h", "chunk_index": 0, "n_chunks": 1, "title": "A", "date": "2021"}
    meta = schema.decode_passage("a#0", old, "tekst").document_meta()
    assert (meta.regime, meta.valid_until, meta.superseded_by, meta.predates_regime) == ("", "", "", False)
    assert Validity.from_fields(old) == Validity(date="2021")


# -- caveats ---------------------------------------------------------------------------------
def test_a_recent_valid_source_gets_no_caveat():
    assert caveat(Validity(date="2025-03", regime="Wi2021"), TODAY, 3) == ""


def test_a_source_written_before_its_regime_says_so():
    text = caveat(Validity(date="2021-08", regime="Wi2021", predates_regime=True), TODAY, 10)
    assert text == (
        "Let op: deze bron is geschreven vóór de inwerkingtreding van de Wet inburgering 2021 "
        "(Wi2021, 1 januari 2022); controleer of dit nog geldt."
    )
    # the date alone tells as much, without the text saying it
    assert "vóór de inwerkingtreding" in caveat(Validity(date="2021", regime="Wi2021"), TODAY, 10)
    assert "vóór de inwerkingtreding" not in caveat(Validity(date="2022-01-06", regime="Wi2021"), TODAY, 10)


def test_age_counts_from_the_last_day_the_date_can_mean():
    assert caveat(Validity(date="2023"), date(2026, 12, 30), 3) == ""  # 2023-12-31 is not yet 3 years ago
    assert caveat(Validity(date="2023"), date(2027, 1, 2), 3) == (
        "Let op: deze bron is ouder dan 3 jaar (2023); controleer of dit nog geldt."
    )
    assert caveat(Validity(date="2019-05-01"), TODAY, 0) == ""  # 0: no caveat for age alone


def test_superseded_expired_future_and_undated_sources():
    assert "is vervangen door ‘handreiking-2024’" in caveat(
        Validity(date="2025", superseded_by="handreiking-2024"), TODAY, 3
    )
    assert "gold tot 30 juni 2024" in caveat(Validity(date="2024-01", valid_until="2024-06-30"), TODAY, 3)
    assert "geldt pas vanaf 1 juli 2027" in caveat(Validity(date="2026-11", valid_from="2027-07-01"), TODAY, 3)
    assert caveat(Validity(), TODAY, 3) == "Let op: deze bron heeft geen datum; controleer of dit nog geldt."
    both = caveat(Validity(date="2021-08", regime="Wi2021"), TODAY, 3)
    assert both == (
        "Let op: deze bron is geschreven vóór de inwerkingtreding van de Wet inburgering 2021 (Wi2021, "
        "1 januari 2022) en is ouder dan 3 jaar (augustus 2021); controleer of dit nog geldt."
    )


def test_newer_valid_sorts_first_and_undated_last():
    old, new, undated = Validity(date="2019"), Validity(date="2024-05"), Validity()
    superseded = Validity(date="2025", superseded_by="x")
    ordered = sorted([undated, superseded, old, new], key=lambda v: recency_key(v, TODAY))
    assert ordered == [new, old, undated, superseded]


# -- with a real index ----------------------------------------------------------------------
@pytest.mark.slow
def test_logeerregeling_cites_the_handreiking_with_a_caveat_that_it_predates_the_wi2021(sample_data_dir):
    from kb.cli import main

    result = CliRunner().invoke(
        main, ["ask", "--json", "Wat is de logeerregeling?"], env={"KB_DATA_DIR": str(sample_data_dir)}
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert not out["abstained"]
    cited = {c["doc_id"]: c for c in out["citations"]}
    handreiking = cited["handreiking-warme-overdracht"]
    assert handreiking["date"] == "2021-08"
    assert "vóór de inwerkingtreding van de Wet inburgering 2021 (Wi2021" in handreiking["caveat"]
    assert all("caveat" in c for c in out["citations"])
    plain = CliRunner().invoke(main, ["ask", "Wat is de logeerregeling?"], env={"KB_DATA_DIR": str(sample_data_dir)})
    assert "Divosa, augustus 2021 —" in plain.output
    assert f"      {handreiking['caveat']}" in plain.output  # under the quote


@pytest.mark.slow
def test_caveats_follow_the_date_of_today_and_the_age_setting(sample_kb, monkeypatch):
    question = "Hoeveel uur werkervaring moeten gezinsmigranten opdoen voor de MAP?"
    monkeypatch.setattr(sample_kb, "today", lambda: date(2025, 6, 1))
    (first, *_) = sample_kb.ask(question).citations
    assert first.doc_id == "cop-klantmanagers-gezinsmigranten"
    assert first.caveat == "Let op: deze bron heeft geen datum; controleer of dit nog geldt."
    duaal = "Wat zijn duale trajecten in Midden-Limburg?"
    cited = {c.doc_id: c.caveat for c in sample_kb.ask(duaal).citations}
    assert cited.get("cop-midden-limburg-duale-trajecten") == ""
    monkeypatch.setattr(sample_kb, "settings", sample_kb.settings.with_(source_max_age_years=1))
    cited = {c.doc_id: c.caveat for c in sample_kb.ask(duaal).citations}
    assert "is ouder dan 1 jaar (2023)" in cited["cop-midden-limburg-duale-trajecten"]


@pytest.mark.slow
def test_of_two_copies_of_a_passage_the_newer_valid_one_is_found(kb, tmp_path: Path):
    """The same guidance in an old and a new version: the new one is what the answer cites,
    also when the old one was indexed first; a superseded copy loses even when it is newer."""
    text = (
        "# Reiskosten\n\nDe gemeente Oosterwolde vergoedt de reiskosten naar de taalschool voor inburgeraars "
        "die verder dan zes kilometer van de school wonen, met een ov-kaart of een kilometervergoeding.\n"
    )
    folder = tmp_path / "docs"
    folder.mkdir()
    for name, meta in (
        ("oud", "date: '2019-03'\n"),
        ("nieuw", "date: '2024-09'\n"),
        ("ingetrokken", "date: '2025-02'\nsuperseded_by: nieuw\n"),
    ):
        # the same passage; a different closing line, so it is not the same file as a whole
        (folder / f"{name}.md").write_text(f"{text}\n# Colofon\n\nVersie {name}.\n", encoding="utf-8")
        (folder / f"{name}.meta.yaml").write_text(f"id: {name}\ntitle: Reiskosten {name}\n{meta}", encoding="utf-8")
    kb.ingest([folder / "oud.md"])
    kb.ingest([folder / "nieuw.md", folder / "ingetrokken.md"])
    question = "Wie vergoedt de reiskosten naar de taalschool in Oosterwolde?"
    passages = kb.retriever.retrieve(analyse_query(question, (), kb.retriever.lexicon))
    assert passages[0].doc_id == "nieuw", [(p.doc_id, p.score) for p in passages]
    assert [p.doc_id for p in passages if "Oosterwolde" in p.text] == ["nieuw"]  # the copies are not searchable


@pytest.mark.slow
def test_validity_from_the_upload_form_reaches_the_citation(kb, tmp_path: Path):
    """The Documents tab's fields are ingest overrides: a superseded upload is cited with that caveat."""
    from kb.chat.uploads import upload_overrides

    path = tmp_path / "reisregeling.md"
    path.write_text(
        "# Reiskosten\n\nDe gemeente Westerveen vergoedt de reiskosten naar de taalschool met een ov-kaart "
        "voor inburgeraars die verder dan vijf kilometer van de school wonen.\n",
        encoding="utf-8",
    )
    overrides, _ = upload_overrides(1, date="2024-05", superseded_by="reisregeling-2026", regime="Wi2021")
    kb.ingest([path], overrides)
    answer = kb.ask("Wie vergoedt de reiskosten naar de taalschool in Westerveen?")
    assert not answer.abstained and answer.citations
    assert "vervangen door ‘reisregeling-2026’" in answer.citations[0].caveat
