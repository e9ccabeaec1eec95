"""The chat app without a browser: rendering, upload checks, feedback, login, handlers."""

from __future__ import annotations

import json
import re
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ingest.pipeline import FileResult
from kb.chat.audit import AuditLog, read_audit
from kb.chat.auth import DISABLED_NL, AdminCredentials, AdminGate, AdminSessions, LoginThrottle
from kb.chat.render import (
    SEARCHING,
    SOURCES_PLACEHOLDER,
    answer_markdown,
    document_rows,
    draft_markdown,
    format_timestamp,
    highlight_quote,
    ingest_rows,
    passage_html,
    sources_html,
)
from kb.chat.uploads import (
    UploadRefused,
    check_upload,
    sanitize_filename,
    stage_uploads,
    sweep_uploads,
    upload_overrides,
)
from kb.errors import ConfigError
from kb.feedback import read_feedback, record_feedback
from kb.index.store import StoredDocument
from kb.records import Answer, Citation, Claim, Passage
from kb.search.query import analyse_query
from tests.files import make_docx, make_pdf

PASSAGE = (
    "De enorme diversiteit in de groep brengt uitdagingen mee.\n"
    "Hierin moeten gezinsmigranten minimaal veertig uur werkervaring   opdoen in een taalrijke omgeving. "
    "Als iemand al werk heeft, is dan voldaan aan de MAP?"
)
QUOTE = "Hierin moeten gezinsmigranten minimaal veertig uur werkervaring opdoen in een taalrijke omgeving."


def _citation(**changes) -> Citation:
    values = dict(
        n=1,
        doc_id="cop-klantmanagers-gezinsmigranten",
        title="CoP Inburgering Klantmanagers",
        publisher="Divosa",
        date="2023",
        locator="p. 2 · § MAP",
        quote=QUOTE,
        text=PASSAGE,
        score=0.9,
    )
    values.update(changes)
    return Citation(**values)


def _passage(doc_id: str, title: str, text: str = "Iets over de logeerregeling.") -> Passage:
    return Passage([f"{doc_id}::1"], doc_id, title, "Divosa", "2021-08", "handreiking", "§ 3", text, 0.5)


def _answer(**changes) -> Answer:
    values = dict(
        question="Hoeveel uur werkervaring voor de MAP?",
        text=f"{QUOTE} [1]",
        abstained=False,
        citations=[_citation()],
        retrieved=[],
    )
    values.update(changes)
    return Answer(**values)


# -- render ------------------------------------------------------------------------------
def test_answer_markdown_keeps_citation_numbers_and_lists_sources():
    md = answer_markdown(_answer())
    assert md.startswith("Hierin moeten gezinsmigranten minimaal veertig uur")
    assert md.count("\\[1\\]") == 2  # the marker in the text and in the source list (escaped for Markdown)
    assert "CoP Inburgering Klantmanagers — Divosa, 2023 — p. 2 · § MAP" in md


def test_answer_markdown_escapes_markup_from_documents():
    md = answer_markdown(_answer(text="Zie <script>alert(1)</script> en *vet* [1]"))
    assert "<script>" not in md and "\\<script\\>" in md
    assert "\\*vet\\*" in md


def test_abstention_is_shown_as_such_with_closest_documents():
    passages = [
        _passage("handreiking-warme-overdracht", "Handreiking warme overdracht"),
        _passage("handreiking-warme-overdracht", "Handreiking warme overdracht"),
        _passage("morgens-arnhem", "Pilot Bureau Nieuwkomers"),
    ]
    answer = _answer(
        text="De kennisbank geeft geen antwoord op deze vraag.", abstained=True, citations=[], retrieved=passages
    )
    assert answer_markdown(answer).startswith("⚠️ **Geen antwoord in de bronnen.**")
    html = sources_html(answer)
    assert "Geen antwoord in de bronnen" in html and "dichtst in de buurt" in html
    assert html.count("Handreiking warme overdracht") == 1  # one entry per document
    assert "Pilot Bureau Nieuwkomers" in html and "<mark>" not in html


def test_sources_panel_marks_the_quote_inside_its_passage():
    html = sources_html(_answer())
    assert "[1]</span> CoP Inburgering Klantmanagers" in html
    assert "Divosa · p. 2 · § MAP" in html
    assert '<span class="kb-date" title="Datum van het document">2023</span>' in html  # next to the title
    # white space differs between quote and passage: still found
    assert "<mark>Hierin moeten gezinsmigranten minimaal veertig uur werkervaring   opdoen" in html
    assert "taalrijke omgeving.</mark> Als iemand al werk heeft" in html
    assert html.index("<details>") < html.index("<mark>")  # the passage opens on request


def test_sources_panel_shows_the_date_in_words_and_the_caveat():
    caveat = "Let op: deze bron is geschreven vóór de inwerkingtreding van de Wet inburgering 2021 <b>."
    html = sources_html(_answer(citations=[_citation(date="2021-08", caveat=caveat)]))
    assert ">augustus 2021</span>" in html
    assert '<div class="kb-caveat" role="note">⚠️ Let op: deze bron is geschreven vóór' in html
    assert "&lt;b&gt;" in html and "<b>" not in html
    assert "kb-caveat" not in sources_html(_answer())  # no caveat, no box


def test_long_passage_shows_the_quoted_paragraph_first_and_the_rest_on_request():
    before, after = "Inleiding over iets anders. " * 30, "Slot over nog iets anders. " * 30
    html = passage_html(f"{before}\n{PASSAGE}\n{after}", QUOTE)
    shown, whole = html.split('<details class="kb-whole">')
    assert shown.startswith("…<br>") and shown.endswith("<br>…")
    assert "<mark>Hierin moeten" in shown and "Inleiding" not in shown and "Slot" not in shown
    assert "Inleiding" in whole and "<mark>Hierin moeten" in whole


def test_highlight_marks_non_adjacent_sentences_and_escapes_html():
    text = "Eerste zin <b>hier</b>. Tweede zin staat ertussen. Derde zin & slot."
    html = highlight_quote(text, "Eerste zin <b>hier</b>. Derde zin & slot.")
    assert html == (
        "<mark>Eerste zin &lt;b&gt;hier&lt;/b&gt;.</mark> Tweede zin staat ertussen. <mark>Derde zin &amp; slot.</mark>"
    )
    assert highlight_quote("Geen overlap hier.", "Iets heel anders.") == "Geen overlap hier."


def test_sources_panel_escapes_document_values_and_has_a_placeholder():
    html = sources_html(_answer(citations=[_citation(title="<img src=x onerror=alert(1)>", date="")]))
    assert "<img" not in html and "&lt;img" in html
    assert "datum onbekend" in html
    assert sources_html(None) == SOURCES_PLACEHOLDER


def test_tables_use_dutch_statuses_and_readable_dates():
    rows = ingest_rows(
        [
            FileResult("/tmp/x/a.pdf", "added", "a", "A", 3),
            FileResult("b.pdf", "refused", reason="Het bestand is leeg."),
        ]
    )
    assert rows == [["a.pdf", "toegevoegd", "a", "A", 3, ""], ["b.pdf", "geweigerd", "", "", 0, "Het bestand is leeg."]]
    assert format_timestamp("2024-05-01T09:30:12.123456+00:00") == "01-05-2024 09:30 UTC"
    assert format_timestamp("onbekend") == "onbekend"
    doc = StoredDocument(
        "d", "Titel", "Divosa", "", "handreiking", "", "d.pdf", "h", "c", 4, "2024-05-01T09:30:00+00:00", False
    )
    assert document_rows([doc]) == [
        ["d", "Titel (onvolledig: opnieuw indexeren)", "handreiking", "—", 4, "01-05-2024 09:30 UTC"]
    ]


# -- uploads -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("../../x.pdf", "x.pdf"),
        ("..\\..\\windows\\evil.DOCX", "evil.docx"),
        ("/etc/passwd", "passwd"),
        ("Verslag CoP (één).pdf", "Verslag_CoP_een.pdf"),
        ("a..b.md", "a_b.md"),
    ],
)
def test_sanitize_filename(name: str, safe: str):
    assert sanitize_filename(name) == safe


def test_names_that_clean_to_nothing_get_a_stable_hash_and_do_not_collide():
    """Bug: 'تقرير.md' and 'отчет.md' both became 'document.md' (one replaced the other)."""
    names = ["تقرير.md", "отчет.md", "..md", "document.md", "", "报告.md"]
    safe = [sanitize_filename(n) for n in names]
    assert len(set(safe)) == len(names)
    assert all(re.fullmatch(r"document_[0-9a-f]{8}(\.md)?", s) for s in safe), safe
    assert sanitize_filename("تقرير.md") == safe[0]  # the same name again: the same document


def test_sanitize_filename_limits_length_and_keeps_extension():
    safe = sanitize_filename("x" * 500 + ".pdf")
    assert len(safe) == 120 and safe.endswith(".pdf")


def test_check_upload_accepts_a_real_pdf_under_a_safe_name(tmp_path: Path):
    pdf = make_pdf(tmp_path / "upload.bin", [["Een echte PDF met tekst over de opstartklas."]])
    assert check_upload(pdf, "../../Verslag opstartklas.pdf", 5) == "Verslag_opstartklas.pdf"


def test_check_upload_refuses_a_word_file_renamed_to_pdf(tmp_path: Path):
    fake = make_docx(tmp_path / "stiekem.bin", "Kop", ["Tekst in Word."])
    with pytest.raises(UploadRefused, match=r"heet '\.pdf', maar de inhoud is een Word-bestand"):
        check_upload(fake, "verslag.pdf", 5)


def test_check_upload_refuses_oversize_unknown_and_empty_files(tmp_path: Path):
    big = tmp_path / "big"
    big.write_bytes(b"a" * (1_048_576 + 10))
    with pytest.raises(UploadRefused, match="de grens is 1 MB"):
        check_upload(big, "groot.txt", 1)
    with pytest.raises(UploadRefused, match=r"'\.exe' is niet toegestaan"):
        check_upload(big, "setup.exe", 50)
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    with pytest.raises(UploadRefused, match="leeg"):
        check_upload(empty, "leeg.md", 5)


def test_stage_uploads_keeps_good_files_inside_the_upload_dir_and_reports_refusals(tmp_path: Path):
    incoming = tmp_path / "incoming"
    pdf = make_pdf(incoming / "1", [["Tekst over reiskosten naar de opstartklas in Zaandam."]])
    fake = make_docx(incoming / "2", "Kop", ["Word"])
    twin = make_pdf(incoming / "3", [["Nog een PDF."]])
    target = tmp_path / "data" / "uploads"
    staged = stage_uploads([(pdf, "../../x.pdf"), (fake, "nep.pdf"), (twin, "x.pdf")], target, 5)
    assert staged.accepted == [target.resolve() / "x.pdf"]
    assert staged.accepted[0].read_bytes() == pdf.read_bytes()
    assert stat.S_IMODE(staged.accepted[0].stat().st_mode) == 0o600
    assert stat.S_IMODE(target.stat().st_mode) == 0o700
    assert not (tmp_path / "x.pdf").exists()  # nothing escaped the upload folder
    assert [(r.path, r.status) for r in staged.refused] == [("nep.pdf", "refused"), ("x.pdf", "refused")]
    assert "Word-bestand" in staged.refused[0].reason and "al een bestand" in staged.refused[1].reason


def test_upload_overrides_only_non_empty_fields_and_no_shared_title():
    overrides, note = upload_overrides(
        1, title=" Verslag ", publisher="", date="2024-03", kind="verslag", themes="a, b"
    )
    assert overrides == {"title": "Verslag", "date": "2024-03", "kind": "verslag", "themes": "a, b"} and note == ""
    overrides, note = upload_overrides(2, title="Zelfde titel", cop="CoP Utrecht")
    assert overrides == {"cop": "CoP Utrecht"} and "titel is niet gebruikt" in note
    with pytest.raises(UploadRefused, match="niet geldig"):
        upload_overrides(1, date="maart")


def test_upload_overrides_carry_the_validity_fields_and_refuse_bad_ones():
    overrides, _ = upload_overrides(1, valid_until="2025-12-31", superseded_by="nieuwe-handreiking", regime="wi 2021")
    assert overrides == {"valid_until": "2025-12-31", "superseded_by": "nieuwe-handreiking", "regime": "Wi2021"}
    with pytest.raises(UploadRefused, match="geldig tot"):
        upload_overrides(1, valid_until="eind volgend jaar")
    with pytest.raises(UploadRefused, match="onbekend"):
        upload_overrides(1, regime="Wet van 1850")


# -- feedback ----------------------------------------------------------------------------
def test_feedback_appends_one_json_line_per_rating_with_only_the_agreed_fields(tmp_path: Path):
    path = tmp_path / "data" / "feedback.jsonl"
    moment = datetime(2024, 5, 1, 9, 30, tzinfo=UTC)
    record_feedback(path, "Vraag?", "Antwoord [1]", ["doc-a", "doc-b", "doc-a"], "up", "  heel\nnuttig ", now=moment)
    record_feedback(path, "Vraag 2?", "Geen antwoord", [], "down")
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2
    first = json.loads(lines[0])
    assert first.pop("id").startswith("fb-")
    assert first == {
        "timestamp": "2024-05-01T09:30:00+00:00",
        "question": "Vraag?",
        "history": [],
        "answer": "Antwoord [1]",
        "doc_ids": ["doc-a", "doc-b"],
        "passages": [],
        "rating": "up",
        "comment": "heel nuttig",
    }
    assert read_feedback(path)[1]["rating"] == "down"
    with pytest.raises(ValueError):
        record_feedback(path, "q", "a", [], "meh")


def test_rating_without_an_answer_writes_nothing(tmp_path: Path):
    from kb.chat.conversation import Conversation, rate_last_answer

    path = tmp_path / "feedback.jsonl"
    assert "Stel eerst een vraag" in rate_last_answer(path, Conversation(), "up", "")
    assert not path.exists()


# -- auth --------------------------------------------------------------------------------
def test_admin_credentials_come_only_from_the_environment():
    assert AdminCredentials.from_env({}) is None
    assert AdminCredentials.from_env({"KB_ADMIN_USER": "trekker"}) is None
    assert AdminCredentials.from_env({"KB_ADMIN_USER": " ", "KB_ADMIN_PASSWORD": "x"}) is None
    admin = AdminCredentials.from_env({"KB_ADMIN_USER": "trekker", "KB_ADMIN_PASSWORD": "geheim wachtwoord"})
    assert admin is not None
    assert admin.check("trekker", "geheim wachtwoord")
    assert admin.check(" trekker ", "geheim wachtwoord")
    assert not admin.check("trekker", "geheim")
    assert not admin.check("beheerder", "geheim wachtwoord")
    assert not admin.check("", "")
    assert "geheim" not in repr(admin)
    assert "KB_ADMIN_USER" in DISABLED_NL and "KB_ADMIN_PASSWORD" in DISABLED_NL


def test_a_short_admin_password_stops_the_start_up_with_a_dutch_message():
    with pytest.raises(ConfigError, match="te kort: gebruik minstens 12 tekens"):
        AdminCredentials.from_env({"KB_ADMIN_USER": "trekker", "KB_ADMIN_PASSWORD": "kort-11-tkn"})
    assert AdminCredentials.from_env({"KB_ADMIN_USER": "trekker", "KB_ADMIN_PASSWORD": "precies-12tk"})


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_sessions_are_random_tokens_that_end_when_idle_or_ended():
    clock = Clock()
    sessions = AdminSessions(idle_seconds=60, clock=clock)
    token, other = sessions.start("trekker", "127.0.0.1"), sessions.start("trekker", "127.0.0.1")
    assert token != other and len(token) >= 43
    assert sessions.get(token).user == "trekker" and sessions.get("geraden") is None and sessions.get("") is None
    clock.now = 59
    assert sessions.get(token) is not None  # used: the idle time starts again
    clock.now = 61
    assert sessions.get(other) is None and sessions.get(token) is not None
    assert sessions.end(token) is not None and sessions.get(token) is None and len(sessions) == 0


def test_failed_logins_back_off_exponentially_per_address_without_sleeping():
    clock = Clock()
    throttle = LoginThrottle(clock, free=3, base_seconds=2, max_seconds=60, account_limit=1000)  # per address only
    waits = []
    for _ in range(8):
        throttle.failed("10.0.0.1")
        waits.append(throttle.wait_seconds("10.0.0.1"))
    assert waits == [0, 0, 2, 4, 8, 16, 32, 60]  # the back-off starts after the 3rd wrong password
    assert throttle.wait_seconds("10.0.0.2") == 0  # another address is not locked
    throttle.failed("10.0.0.1")
    throttle.failed("10.0.0.1")
    assert throttle.wait_seconds("10.0.0.1") == 60  # capped
    clock.now = 61
    assert throttle.wait_seconds("10.0.0.1") == 0


def test_gate_refuses_the_right_password_while_locked_and_audits_without_secrets(tmp_path: Path):
    clock = Clock()
    audit = AuditLog(tmp_path / "audit.jsonl", now=lambda: datetime(2024, 5, 1, 9, 30, tzinfo=UTC))
    gate = AdminGate(AdminCredentials("trekker", "een lang wachtwoord"), 30, audit, clock)
    for guess in ("a", "b", "c", "d"):
        assert not gate.login("trekker", guess, "10.0.0.1").ok
    refused = gate.login("trekker", "een lang wachtwoord", "10.0.0.1")
    assert not refused.ok and refused.retry_after > 0 and "Te veel mislukte pogingen" in refused.message
    assert not gate.login("een lang wachtwoord", "x", "10.0.0.9").ok  # a password typed as user name
    outcome = gate.login("trekker", "een lang wachtwoord", "10.0.0.2")
    assert outcome.ok and gate.session(outcome.token).user == "trekker"
    assert gate.logout(outcome.token, "10.0.0.2") and gate.session(outcome.token) is None
    entries = read_audit(tmp_path / "audit.jsonl")
    # the back-off starts after the 3rd wrong password: the 4th guess is refused unchecked, as one login_blocked line
    assert [e["action"] for e in entries] == ["login_failed"] * 3 + ["login_blocked", "login_failed", "login", "logout"]
    assert entries[0] == {
        "timestamp": "2024-05-01T09:30:00+00:00",
        "action": "login_failed",
        "user": "trekker",
        "client": "10.0.0.1",
    }
    text = (tmp_path / "audit.jsonl").read_text(encoding="utf-8")
    assert "wachtwoord" not in text and outcome.token not in text and "(onbekend)" in text
    assert stat.S_IMODE((tmp_path / "audit.jsonl").stat().st_mode) == 0o600
    with pytest.raises(ValueError):
        audit.record("upload", "trekker", "x", text="Een passage")  # only ids and counts


def test_an_admin_page_is_bound_to_its_token_until_logout_and_follows_a_new_login(tmp_path: Path):
    gate = AdminGate(AdminCredentials("trekker", "een lang wachtwoord"), 30, AuditLog(tmp_path / "a.jsonl"), Clock())
    first = gate.login("trekker", "een lang wachtwoord", "10.0.0.1").token
    assert gate.may_read("tab-1", None)  # a page never used as admin
    gate.bind("tab-1", first)
    assert gate.may_read("tab-1", first) and not gate.may_read("tab-1", None) and not gate.may_read("tab-1", "x")
    second = gate.login("trekker", "een lang wachtwoord", "10.0.0.1").token
    gate.replace_token(first, second)  # logged in again in the same browser
    assert gate.session(first) is None and gate.may_read("tab-1", second) and not gate.may_read("tab-1", first)
    gate.logout(second, "10.0.0.1")
    assert gate.may_read("tab-1", None)  # the page goes on as an ordinary chat page


def test_start_up_sweep_deletes_everything_left_in_the_upload_folder(tmp_path: Path):
    uploads = tmp_path / "uploads"
    (uploads / "batch-1").mkdir(parents=True)
    (uploads / "batch-1" / "half.pdf").write_bytes(b"%PDF")
    (uploads / "oud-origineel.docx").write_bytes(b"PK")
    assert sweep_uploads(uploads) == 2 and list(uploads.iterdir()) == []
    assert stat.S_IMODE(uploads.stat().st_mode) == 0o700
    assert sweep_uploads(tmp_path / "bestaat-niet") == 0


# -- handlers with the real knowledge base -----------------------------------------------
@pytest.mark.slow
def test_follow_up_passes_earlier_questions_and_errors_stay_dutch(sample_kb, monkeypatch):
    from kb.chat.conversation import Conversation, answer_question

    seen: list[list[str]] = []
    real_ask_stream = sample_kb.ask_stream

    def spy(question, history=(), filters=None, k=None):
        seen.append(list(history))
        return real_ask_stream(question, history=history, filters=filters, k=k)

    monkeypatch.setattr(sample_kb, "ask_stream", spy)
    first = "Hoeveel uur werkervaring moeten gezinsmigranten opdoen voor de MAP?"
    conv, error = answer_question(sample_kb, first, Conversation(), {"kind": "", "cop": "", "year": ""})
    assert error == "" and "veertig uur" in conv.messages[1]["content"]
    assert conv.last.doc_ids == ["cop-klantmanagers-gezinsmigranten"]
    assert "<mark>" in conv.sources
    conv, error = answer_question(sample_kb, "En geldt dat ook als iemand al werk heeft?", conv)
    assert error == "" and seen == [[], [first]]
    assert len(conv.messages) == 4 and conv.questions[0] == first

    unchanged, error = answer_question(sample_kb, "   ", conv)
    assert unchanged is conv and error.startswith("Stel een vraag")
    _, error = answer_question(sample_kb, "waarom " * 400, conv)
    assert "te lang" in error
    _, error = answer_question(sample_kb, "Wat is de logeerregeling?", conv, {"year": "vorig jaar"})
    assert "geen getal" in error and "Traceback" not in error


@pytest.mark.slow
def test_filters_from_the_dropdowns_restrict_the_sources(sample_kb):
    from kb.chat.chat_tab import current_filter_choices
    from kb.chat.conversation import Conversation, answer_question

    choices = current_filter_choices(sample_kb)
    assert choices["kind"][0] == ("Alle soorten", "") and ("handreiking", "handreiking") in choices["kind"]
    assert ("2021", "2021") in choices["year"]
    question = "Wie betaalt de reiskosten naar de opstartklas?"
    blank = {"kind": "", "cop": "", "year": ""}
    conv, _ = answer_question(sample_kb, question, Conversation(), blank)
    assert "cop-amsterdam-coa-samenwerking" in conv.last.doc_ids
    conv, error = answer_question(sample_kb, question, Conversation(), {**blank, "kind": "handreiking"})
    assert error == "" and "Handreiking warme overdracht" in conv.sources
    assert "Een jaar CoP Inburgering Amsterdam" not in conv.sources
    conv, error = answer_question(sample_kb, "Wat is de logeerregeling?", Conversation(), {**blank, "year": "2022"})
    assert error == "" and "Handreiking warme overdracht" not in conv.sources


@pytest.mark.slow
def test_uploads_are_ingested_and_no_original_is_kept(tmp_path, e5):
    """Bug: uploaded originals (unredacted) and refused uploads stayed in KB_DATA_DIR/uploads/."""
    from kb.chat.uploads import ingest_uploads, remove_document, upload_dir
    from kb.config import Settings
    from kb.service import build_kb

    kb = build_kb(Settings().with_(data_dir=tmp_path / "data"), embedding=e5)
    good = make_pdf(
        tmp_path / "in" / "1",
        [["De gemeente Wormerveld geeft elke inburgeraar in de opstartklas een gratis fiets van de Fietsbank."]],
        title="Fietsregeling Wormerveld",
    )
    fake = make_docx(tmp_path / "in" / "2", "Kop", ["Een Word-bestand met een pdf-naam."])
    results, summary = ingest_uploads(
        kb, [(good, "../fietsregeling wormerveld.pdf"), (fake, "nep.pdf")], {"publisher": "Gemeente Wormerveld"}
    )
    assert [(Path(r.path).name, r.status) for r in results] == [
        ("fietsregeling_wormerveld.pdf", "added"),
        ("nep.pdf", "refused"),
    ]
    assert summary.startswith("2 bestand(en): 1 toegevoegd") and "1 geweigerd" in summary
    assert list(upload_dir(kb.settings).iterdir()) == []  # neither the indexed nor the refused original
    (doc,) = kb.documents()
    assert (doc.title, doc.publisher) == ("Fietsregeling Wormerveld", "Gemeente Wormerveld")

    # another file that would take the same id is refused unless replacing was asked for
    twin = make_pdf(tmp_path / "in" / "3", [["Een andere tekst over fietsen in Wormerveld en de opstartklas."]])
    takeover = f"---\nid: {doc.doc_id}\n---\nEen tekst die de fietsregeling zou overschrijven.\n"
    (tmp_path / "in" / "4").write_text(takeover, encoding="utf-8")
    results, _ = ingest_uploads(kb, [(tmp_path / "in" / "4", "anders.md")], {})
    assert results[0].status == "refused" and "Vervang het bestaande document" in results[0].reason
    assert kb.documents()[0].chunks == doc.chunks
    results, _ = ingest_uploads(kb, [(twin, "fietsregeling wormerveld.pdf")], {})  # same name: new version
    assert results[0].status == "replaced"

    message = remove_document(kb, doc.doc_id)
    assert "is verwijderd" in message
    assert kb.documents() == [] and list(upload_dir(kb.settings).iterdir()) == []
    assert "geen document" in remove_document(kb, doc.doc_id)


@pytest.mark.slow
def test_an_upload_is_read_once_and_the_ingestor_decides_what_it_may_replace(tmp_path, e5, monkeypatch):
    """Issue 18: the Documents tab read each upload twice (once for its id, once to ingest it) and
    decided outside the ingest lock which document an upload may replace."""
    import ingest.pipeline
    from kb.chat.uploads import ingest_uploads
    from kb.config import Settings
    from kb.service import build_kb

    kb = build_kb(Settings().with_(data_dir=tmp_path / "data"), embedding=e5)
    corpus = tmp_path / "corpus" / "regeling.md"
    corpus.parent.mkdir()
    corpus.write_text("# Regeling\n\nDe gemeente vergoedt de reiskosten naar de taalschool.\n", encoding="utf-8")
    assert kb.ingest([corpus]).results[0].status == "added"
    (tmp_path / "overname").write_text("---\nid: regeling\n---\nEen tekst die de regeling zou vervangen.\n")
    (tmp_path / "nieuw").write_text("# Nieuw\n\nDe klantmanager plant een driegesprek met de taalschool.\n")
    reads: list[str] = []
    real_load = ingest.pipeline.load_file
    monkeypatch.setattr(
        ingest.pipeline, "load_file", lambda path, data: reads.append(path.name) or real_load(path, data)
    )

    results, _ = ingest_uploads(kb, [(tmp_path / "overname", "overname.md"), (tmp_path / "nieuw", "nieuw.md")], {})
    assert [(r.name, r.status) for r in results] == [("nieuw.md", "added"), ("overname.md", "refused")]
    assert "Vervang het bestaande document" in results[1].reason
    assert sorted(reads) == ["nieuw.md", "overname.md"]  # each file read once
    assert kb.upload_registry.load() == {"nieuw": "nieuw.md"}

    # the rule is the ingestor's, so it holds for every caller of KnowledgeBase.ingest(uploaded=True)
    staged = tmp_path / "staged" / "overname.md"
    staged.parent.mkdir()
    staged.write_text((tmp_path / "overname").read_text(), encoding="utf-8")
    assert kb.ingest([staged], uploaded=True).results[0].status == "refused"
    assert kb.ingest([staged], uploaded=True, replace_existing=True).results[0].status == "replaced"
    assert kb.upload_registry.load() == {"nieuw": "nieuw.md", "regeling": "overname.md"}
    assert kb.ingest([staged], uploaded=True).results[0].status == "unchanged"  # now the upload's own document


@pytest.mark.slow
def test_create_app_builds_without_launching_and_explains_disabled_uploads(sample_kb):
    import gradio as gr

    from kb.chat.app import create_app

    demo = create_app(sample_kb, sample_kb.settings, admin=None)
    assert isinstance(demo, gr.Blocks) and not demo.is_running
    texts = [b.value for b in demo.blocks.values() if isinstance(b, gr.Markdown)]
    assert DISABLED_NL in texts
    labels = {getattr(b, "label", None) for b in demo.blocks.values()}
    assert {"Soort document", "CoP of regio", "Jaar"} <= labels
    assert "Gebruikersnaam" not in labels
    kinds = next(b for b in demo.blocks.values() if getattr(b, "label", None) == "Soort document")
    assert ("handreiking", "handreiking") in kinds.choices


# -- generated answers (issue 6) -----------------------------------------------------------
def test_generated_answer_says_how_it_was_made_and_lists_dropped_sentences():
    kept = Claim(QUOTE, (2,), (1,), "supported", 0.97)
    dropped = Claim("Het COA betaalt de <b>reiskosten</b>.", (2,), (), "unsupported", 0.05, "De bron zegt dit niet.")
    answer = _answer(
        mode="llm", notice="Eén zin is weggelaten.", claims=[kept, dropped], standalone_question="Wat is de MAP?"
    )
    message = answer_markdown(answer)
    assert message.startswith("_Gezocht als: Wat is de MAP?_")
    assert "gecontroleerd" in message and "Eén zin is weggelaten." in message
    assert "reiskosten" not in message  # dropped sentences are not in the chat message
    panel = sources_html(answer)
    assert 'class="kb-dropped"' in panel and "(1)" in panel
    assert "&lt;b&gt;reiskosten&lt;/b&gt;" in panel and "De bron zegt dit niet." in panel
    assert "kb-dropped" not in sources_html(_answer())  # extractive answers: no such section


def test_fallback_answer_shows_the_reason():
    answer = _answer(mode="llm-fallback", notice="Het taalmodel was niet bereikbaar.")
    assert "ℹ️ _Het taalmodel was niet bereikbaar._" in answer_markdown(answer)
    assert "Geschreven door het taalmodel" not in answer_markdown(answer)
    assert draft_markdown("Zin [1] met *ster*").endswith("Zin \\[1\\] met \\*ster\\*")


@pytest.mark.slow
def test_stream_answer_shows_searching_then_drafts_then_the_verified_answer(sample_kb):
    from kb.chat.conversation import Conversation, stream_answer
    from kb.service import build_kb
    from tests.fakes import fake_server

    question = "Hoeveel uur werkervaring moeten gezinsmigranten opdoen voor de MAP?"
    fact = "Gezinsmigranten moeten minimaal veertig uur werkervaring opdoen in een taalrijke omgeving"
    passages = sample_kb.retriever.retrieve(analyse_query(question, (), sample_kb.retriever.lexicon), 10, {})
    n = next(i for i, p in enumerate(passages[:5], 1) if "veertig uur" in p.text)
    llm = fake_server(answer=f"{fact} [{n}]. Het COA betaalt de reiskosten naar Zaandam [{n}]. {fact} [{n}].")
    kb = build_kb(
        sample_kb.settings, embedding=sample_kb.embedding, store=sample_kb.store, retriever=sample_kb.retriever, llm=llm
    )
    steps = list(stream_answer(kb, question, Conversation()))
    first, *middle, last = steps
    assert first[1][-1]["content"] == SEARCHING and not first[3]
    assert all(not done for *_, done in middle)
    assert all(m[1][-1]["content"].startswith("✍️") for m in middle)
    conversation, messages, error, done = last
    assert done and error == "" and conversation.messages == messages
    assert "veertig uur" in messages[-1]["content"] and "Zaandam" not in messages[-1]["content"]
    assert "Zaandam" in conversation.sources and "kb-dropped" in conversation.sources
