"""Ingestion into a real Chroma store with the real e5 model."""

from pathlib import Path

import pytest

from tests.files import make_pdf

pytestmark = pytest.mark.slow

MAP_TEXT = (
    "In de module werken inburgeraars veertig uur in een taalrijke omgeving. De klantmanager bewaakt de voortgang."
)


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_generated_pdf_is_ingested_and_answerable_with_page_locator(kb, tmp_path):
    pdf = make_pdf(
        tmp_path / "in" / "handreiking-test.pdf",
        [
            ["De gemeente Testdorp organiseert elke dinsdag een taalcafé in de bibliotheek. " * 4],
            [
                "De fietsvergoeding voor de taalschool bedraagt vijftien cent per kilometer in Testdorp. "
                "Dat geldt voor iedere inburgeraar die verder dan zes kilometer van de school woont. "
                "De klantmanager regelt de aanvraag samen met de inburgeraar."
            ],
        ],
        title="Handreiking Testdorp",
    )
    report = kb.ingest([pdf.parent])
    assert [r.status for r in report.results] == ["added"]
    answer = kb.ask("Hoeveel is de fietsvergoeding voor de taalschool in Testdorp?")
    assert not answer.abstained
    assert "vijftien cent" in answer.text
    assert answer.citations[0].title == "Handreiking Testdorp"
    assert answer.citations[0].locator.startswith("p. 2")


def test_reingest_unchanged_does_no_embedding_and_changed_file_replaces(kb, tmp_path, monkeypatch):
    folder = tmp_path / "docs"
    doc = _write(folder / "map.md", f"# MAP\n\n{MAP_TEXT}\n")
    first = kb.ingest([folder])
    assert first.results[0].status == "added" and first.embedded >= 1

    calls = []
    model_class = type(kb.embed_model)
    original = model_class.get_text_embedding_batch
    monkeypatch.setattr(
        model_class,
        "get_text_embedding_batch",
        lambda self, texts, **kw: calls.append(texts) or original(self, texts, **kw),
    )
    again = kb.ingest([folder])
    assert again.results[0].status == "unchanged"
    assert calls == [] and again.embedded == 0

    _write(doc, "# MAP\n\nIn de module werken inburgeraars zestig uur in een taalrijke omgeving.\n")
    changed = kb.ingest([folder])
    assert changed.results[0].status == "replaced"
    assert [d.doc_id for d in kb.documents()] == ["map"]
    texts = " ".join(p.text for p in kb.ask("Hoeveel uur werken inburgeraars in de module?").retrieved)
    assert "zestig uur" in texts and "veertig uur" not in texts


def test_ingesting_another_folder_keeps_earlier_documents_and_remove_works(kb, tmp_path):
    kb.ingest(
        [
            _write(
                tmp_path / "a" / "een.md", "# Een\n\nHet eerste document gaat over de brede intake in Zwolle.\n"
            ).parent
        ]
    )
    kb.ingest(
        [
            _write(
                tmp_path / "b" / "twee.md", "# Twee\n\nHet tweede document gaat over de logeerregeling in Breda.\n"
            ).parent
        ]
    )
    assert [d.doc_id for d in kb.documents()] == ["een", "twee"]
    assert kb.remove("een") > 0
    assert [d.doc_id for d in kb.documents()] == ["twee"]
    assert all(p.doc_id == "twee" for p in kb.ask("brede intake Zwolle").retrieved)


def test_a_bad_file_is_reported_and_the_rest_goes_on(kb, tmp_path):
    folder = tmp_path / "mix"
    _write(folder / "goed.md", "# Goed\n\nDeze tekst over duale trajecten wordt gewoon geïndexeerd.\n")
    (folder / "kapot.pdf").write_bytes(b"%PDF-1.5 kapot")
    _write(folder / "leeg.txt", "")
    report = kb.ingest([folder])
    status = {Path(r.path).name: r.status for r in report.results}
    assert status == {"goed.md": "added", "kapot.pdf": "refused", "leeg.txt": "refused"}
    assert all(r.reason for r in report.results if r.status == "refused")
    assert [d.doc_id for d in kb.documents()] == ["goed"]


def test_same_content_under_another_name_is_a_duplicate(kb, tmp_path):
    text = "# Notitie\n\nDe regievoerder plant het driegesprek met het COA en de inburgeraar.\n"
    kb.ingest([_write(tmp_path / "a" / "origineel.md", text)])
    report = kb.ingest([_write(tmp_path / "b" / "kopie.md", text)])
    assert report.results[0].status == "duplicate"
    assert "origineel" in report.results[0].reason
    assert [d.doc_id for d in kb.documents()] == ["origineel"]


def test_sidecar_metadata_is_used_and_filters_work(kb, tmp_path):
    folder = tmp_path / "meta"
    _write(folder / "x.txt", "Kop\n\nDe taalschool in Venlo biedt avondlessen aan voor werkende statushouders.\n")
    _write(
        folder / "x.meta.yaml",
        "id: venlo-avondles\ntitle: Avondlessen Venlo\nkind: artikel\ncop: Noord-Limburg\ndate: 2024-05-01\n",
    )
    _write(folder / "y.md", "---\nkind: handreiking\n---\n# Y\n\nDe taalschool in Venlo heeft ook een zomercursus.\n")
    kb.ingest([folder])
    docs = {d.doc_id: d for d in kb.documents()}
    assert docs["venlo-avondles"].title == "Avondlessen Venlo" and docs["venlo-avondles"].cop == "Noord-Limburg"
    only_articles = kb.ask("taalschool Venlo", filters={"kind": "Artikel"})
    assert {p.doc_id for p in only_articles.retrieved} == {"venlo-avondles"}
    assert {p.doc_id for p in kb.ask("taalschool Venlo", filters={"year": "2024"}).retrieved} == {"venlo-avondles"}


def test_two_files_with_the_same_id_are_not_mixed(kb, tmp_path):
    _write(tmp_path / "a" / "notitie.md", "# A\n\nNotitie A over de taalschool in Gouda en de opstartklas.\n")
    _write(tmp_path / "b" / "notitie.md", "# B\n\nNotitie B over werkgevers in Delft en duale trajecten.\n")
    report = kb.ingest([tmp_path / "a", tmp_path / "b"])
    assert [r.status for r in report.results] == ["added", "refused"]
    assert "allebei de id 'notitie'" in report.results[1].reason
