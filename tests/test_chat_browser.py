"""The chat app in headless Chromium: what a klantmanager, a CoP-trekker and an evaluator see.

Starts the real app (``kb.chat.app.launch``) on a free loopback port against a copy of the
sample index, and drives it with Playwright. Also writes ``docs/screenshot-chat.png`` and the
Evaluatie tab's ``docs/screenshot-eval.png`` and ``docs/screenshot-eval-result.png``.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import socket
import tempfile
from pathlib import Path
from urllib.parse import urlparse

import pytest

from kb.chat.audit import read_audit
from tests.conftest import CORPUS, REPO, local_llm_settings
from tests.files import make_docx, make_pdf

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
MAP_QUESTION = "Hoeveel uur werkervaring moeten gezinsmigranten opdoen voor de MAP?"
MAP_TITLE = "CoP Inburgering Klantmanagers: ondersteuning van gezins- en overige migranten"
UNIQUE_TITLE = "Fietsregeling opstartklas Wormerveld"
UNIQUE_FACT = (
    "In de gemeente Wormerveld krijgt elke inburgeraar die de opstartklas volgt een gratis fiets van de "
    "Fietsbank Wormerveld, nadat hij of zij drie verkeerslessen heeft gevolgd."
)
SCREENSHOT = REPO / "docs" / "screenshot-chat.png"
EVAL_SCREENSHOT = REPO / "docs" / "screenshot-eval.png"
EVAL_RESULT_SCREENSHOT = REPO / "docs" / "screenshot-eval-result.png"
DOSSIER_SCREENSHOT = REPO / "docs" / "screenshot-dossier.png"
GLOSSARY_SCREENSHOT = REPO / "docs" / "screenshot-glossary.png"
HANDREIKING = "Handreiking warme overdracht COA – gemeenten"
TIMEOUT = 60_000  # ms; generous for a busy 2-core machine

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="Chromium ontbreekt (/usr/bin/chromium): apt-get install chromium"
    ),
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def chat_server(tmp_path_factory, sample_data_dir, e5):
    """The app serving a private copy of the sample index, with test admin and evaluator accounts."""
    from kb.chat.app import launch
    from kb.config import Settings
    from kb.service import build_kb

    data_dir = tmp_path_factory.mktemp("chat") / "data"
    shutil.copytree(sample_data_dir, data_dir)
    evaluator = ("evaluator-test", secrets.token_urlsafe(12))
    admin = ("trekker-test", secrets.token_urlsafe(12))
    settings = Settings.from_env(
        {
            "KB_DATA_DIR": str(data_dir),
            "KB_CORPUS_DIR": str(CORPUS),
            "KB_ADMIN_USER": admin[0],
            "KB_ADMIN_PASSWORD": admin[1],
            "KB_EVALUATOR_USER": evaluator[0],
            "KB_EVALUATOR_PASSWORD": evaluator[1],
        }
    )
    kb = build_kb(settings, embedding=e5)
    port = _free_port()
    server = launch(kb, host="127.0.0.1", port=port, ingest_corpus=True, block=False)
    try:
        yield {
            "url": f"http://127.0.0.1:{port}/",
            "kb": kb,
            "admin": admin,
            "evaluator": evaluator,
            "kb_admin_gate": server.gate,
        }
    finally:
        server.close()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    home = tempfile.mkdtemp(prefix="chromium-home-")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("HOME", home)  # Chromium writes its profile bits under $HOME
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                yield chromium
            finally:
                chromium.close()
    shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def page(browser, chat_server):
    """A fresh page on the app that records every request leaving this machine."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="nl-NL")
    page = context.new_page()
    page.set_default_timeout(TIMEOUT)
    page.outside_requests = []
    page.on(
        "request",
        lambda r: (
            page.outside_requests.append(r.url)
            if urlparse(r.url).scheme in ("http", "https", "ws", "wss")
            and urlparse(r.url).hostname not in ("127.0.0.1", "localhost")
            else None
        ),
    )
    page.goto(chat_server["url"])
    yield page
    context.close()


def _ask(page, question: str) -> None:
    page.get_by_label("Uw vraag").fill(question)
    page.get_by_role("button", name="Vraag stellen").click()


def _last_answer(page):
    return page.locator("#kb-chat .message-row.bot-row, #kb-chat [data-testid='bot']").last


def test_chat_answers_with_citations_sources_follow_up_and_feedback(page, chat_server):
    from playwright.sync_api import expect

    chat, sources = page.locator("#kb-chat"), page.locator("#kb-sources")
    _ask(page, MAP_QUESTION)
    expect(chat).to_contain_text("veertig uur")
    expect(chat).to_contain_text("[1]")
    expect(sources).to_contain_text(MAP_TITLE)
    expect(sources).to_contain_text("Divosa (CoP Inburgering)")

    # open the cited passage: the quoted sentence is marked inside it
    mark = sources.locator("mark").first
    expect(mark).to_be_hidden()
    sources.get_by_text("Passage tonen [1]").click()
    expect(mark).to_be_visible()
    expect(mark).to_contain_text("veertig uur werkervaring")
    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOT))

    # alone this follow-up gets no answer; with the first question as history it does
    _ask(page, "En geldt dat ook als iemand al werk heeft?")
    expect(sources).to_contain_text("Bronnen bij: “En geldt dat ook als iemand al werk heeft?”")
    expect(chat).to_contain_text("Als iemand al werk heeft, is dan voldaan aan de MAP?")
    expect(sources).to_contain_text(MAP_TITLE)

    # a rating with a comment lands in feedback.jsonl
    page.get_by_label("Toelichting (optioneel)").fill("Duidelijk antwoord met bron")
    page.get_by_role("button", name="👍 Nuttig").click()
    expect(page.locator("#kb-feedback-status")).to_contain_text("Bedankt")
    from kb.feedback import feedback_path, read_feedback

    last = read_feedback(feedback_path(chat_server["kb"].settings))[-1]
    assert last["rating"] == "up" and last["comment"] == "Duidelijk antwoord met bron"
    assert last["question"] == "En geldt dat ook als iemand al werk heeft?"
    assert last["doc_ids"] == ["cop-klantmanagers-gezinsmigranten"]

    # a bad question gets one plain Dutch sentence, not a traceback
    _ask(page, "   ")
    expect(page.locator("#kb-status")).to_contain_text("Stel een vraag, bijvoorbeeld")
    assert "Traceback" not in page.content()
    assert page.outside_requests == []


def test_example_question_is_answered_on_click(page):
    from playwright.sync_api import expect

    page.get_by_role("button", name="Wie betaalt de reiskosten naar de opstartklas in Zaandam?").click()
    expect(page.locator("#kb-chat")).to_contain_text("reiskostenvergoeding voor de eerder genoemde opstartklas")
    expect(page.locator("#kb-sources")).to_contain_text("Een jaar CoP Inburgering Amsterdam")


def _clipboard(page, expected: str) -> str:
    """The clipboard's text once it holds ``expected`` (the copy runs after the server's reply)."""
    text = ""
    for _ in range(50):
        text = page.evaluate("navigator.clipboard.readText()")
        if expected in text:
            break
        page.wait_for_timeout(100)
    return text


def test_answer_is_copied_for_the_dossier_and_the_conversation_exported(page, chat_server):
    """Validity in the sources panel, 'Kopieer voor dossier' (the clipboard holds the server-built
    text with numbered references), glossary hover, and the Markdown and PDF exports."""
    import io

    from playwright.sync_api import expect
    from pypdf import PdfReader

    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=chat_server["url"].rstrip("/"))
    sources = page.locator("#kb-sources")
    _ask(page, "Wat is de logeerregeling?")
    expect(sources).to_contain_text(HANDREIKING)
    handreiking = sources.locator(".kb-source", has_text=HANDREIKING).first
    expect(handreiking.locator(".kb-date")).to_have_text("augustus 2021")
    expect(handreiking.locator(".kb-caveat")).to_contain_text(
        "geschreven vóór de inwerkingtreding van de Wet inburgering 2021 (Wi2021, 1 januari 2022)"
    )

    page.get_by_role("button", name="Kopieer voor dossier").click()
    expect(page.locator("#kb-dossier-status")).to_contain_text("gekopieerd")
    copied = _clipboard(page, "Bronnen:")
    assert copied == page.locator("#kb-dossier textarea").input_value()  # what the server built, copied as is
    assert copied.startswith("Vraag: Wat is de logeerregeling?\n\nAntwoord van de CoP Kennisbank (")
    answer, references = copied.split("\n\nBronnen:\n")
    numbered = [line for line in references.splitlines() if line.startswith("[")]
    markers = sorted(set(re.findall(r"\[(\d+)\]", answer)))
    assert markers and [line.split("]")[0] + "]" for line in numbered] == [f"[{n}]" for n in markers]
    (first,) = [line for line in numbered if HANDREIKING in line]
    assert re.fullmatch(
        rf"\[\d\] {HANDREIKING}\. Divosa, augustus 2021\. § .*Logeerregeling\. “De logeerregeling maakt het "
        r"mogelijk dat zij gedurende maximaal drie maanden in een gasthuishouden verblijven\..*”",
        first,
    ), first
    assert "    Let op: deze bron is geschreven vóór de inwerkingtreding van de Wet inburgering 2021" in references

    page.get_by_role("button", name="Gesprek exporteren").click()
    expect(page.locator("#kb-download-pdf")).to_be_visible()
    page.screenshot(path=str(DOSSIER_SCREENSHOT), full_page=True)
    with page.expect_download() as download:
        page.locator("#kb-download-md").click()
    markdown = Path(download.value.path()).read_text(encoding="utf-8")
    assert "## Vraag 1: Wat is de logeerregeling?" in markdown and "_Beantwoord op " in markdown
    assert f"{HANDREIKING}. Divosa, augustus 2021." in markdown

    # a defined lexicon term in the answer shows its definition on hover
    page.get_by_role("button", name=MAP_QUESTION).click()
    expect(page.locator("#kb-download-pdf")).to_be_hidden()  # the export no longer covers the conversation
    term = page.locator("#kb-chat abbr.kb-term", has_text="Module Arbeidsmarkt en Participatie").first
    expect(term).to_have_attribute("title", re.compile(r"^Module Arbeidsmarkt en Participatie: Onderdeel van"))
    term.scroll_into_view_if_needed()
    # the mouse on the middle of the term's first line (a wrapped term's box also covers other words)
    first_line = term.evaluate(
        "e => { const r = e.getClientRects()[0]; return {x: r.x + r.width / 2, y: r.y + r.height / 2}; }"
    )
    page.mouse.move(first_line["x"], first_line["y"])
    page.wait_for_timeout(300)  # one frame for the :hover style
    assert term.evaluate("e => e.matches(':hover')")
    page.screenshot(
        path=str(GLOSSARY_SCREENSHOT), clip={"x": 0, "y": max(first_line["y"] - 180, 0), "width": 820, "height": 380}
    )

    page.get_by_role("button", name="Gesprek exporteren").click()
    with page.expect_download() as download:
        page.locator("#kb-download-pdf").click()
    assert download.value.suggested_filename.startswith("gesprek-kennisbank-")
    pdf = PdfReader(io.BytesIO(Path(download.value.path()).read_bytes()))
    text = " ".join(" ".join(p.extract_text().split()) for p in pdf.pages)
    assert "Vraag 1: Wat is de logeerregeling?" in text and f"Vraag 2: {MAP_QUESTION}" in text
    assert f"{HANDREIKING}. Divosa, augustus 2021." in text and "Beantwoord op " in text
    assert page.outside_requests == []


def test_trekker_uploads_asks_and_removes_a_document(page, chat_server, tmp_path):
    from playwright.sync_api import expect

    kb = chat_server["kb"]
    pdf = make_pdf(tmp_path / "Fietsregeling Wormerveld.pdf", [[UNIQUE_FACT]], title=UNIQUE_TITLE)
    fake = make_docx(tmp_path / "verslag.pdf", "Een Word-bestand", ["Met een pdf-naam."])

    page.get_by_role("tab", name="Documenten").click()
    # the Evaluatie tab has a login form of its own: address the Documents tab's by id
    page.locator("#kb-user").get_by_role("textbox").fill(chat_server["admin"][0])
    page.locator("#kb-password input").fill("fout-wachtwoord")
    page.locator("#kb-login").click()
    expect(page.locator("#kb-login-status")).to_contain_text("Onjuiste gebruikersnaam of wachtwoord")
    page.locator("#kb-password input").fill(chat_server["admin"][1])
    page.locator("#kb-login").click()
    expect(page.get_by_text("U bent ingelogd als beheerder.")).to_be_visible()
    documents = page.locator("#kb-documents")
    expect(documents).to_contain_text("cop-klantmanagers-gezinsmigranten")
    # the login is a server-side session in an HttpOnly, SameSite=Strict cookie that scripts cannot read
    (cookie,) = [c for c in page.context.cookies() if c["name"] == "kb_admin"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and not cookie["secure"]
    assert "kb_admin" not in page.evaluate("document.cookie")
    assert chat_server["kb_admin_gate"].session(cookie["value"]) is not None

    page.locator("#kb-files input[type=file]").set_input_files([str(pdf), str(fake)])
    expect(page.locator("#kb-files").get_by_role("row", name="verslag.pdf")).to_be_visible()  # upload done
    page.get_by_label("Organisatie").fill("Gemeente Wormerveld")
    page.get_by_label("CoP of regio").fill("CoP Zaanstreek")
    page.get_by_role("button", name="Toevoegen aan de kennisbank").click()
    summary = page.locator("#kb-upload-summary")
    expect(summary).to_contain_text("2 bestand(en): 1 toegevoegd, 1 geweigerd")
    results = page.locator("#kb-results")
    expect(results.get_by_role("row", name="Fietsregeling_Wormerveld.pdf")).to_contain_text("toegevoegd")
    expect(results.get_by_role("row", name="verslag.pdf")).to_contain_text("geweigerd")
    expect(results).to_contain_text("de inhoud is een Word-bestand")
    expect(documents).to_contain_text(UNIQUE_TITLE)
    (uploaded,) = [d for d in kb.documents() if d.title == UNIQUE_TITLE]
    assert uploaded.publisher == "Gemeente Wormerveld" and uploaded.cop == "CoP Zaanstreek"
    uploads = kb.settings.data_dir / "uploads"
    assert list(uploads.iterdir()) == []  # no original kept, also not the refused one

    page.get_by_role("tab", name="Vragen stellen").click()
    _ask(page, "Wat krijgt een inburgeraar in de opstartklas in Wormerveld?")
    expect(page.locator("#kb-chat")).to_contain_text("gratis fiets")
    expect(page.locator("#kb-chat")).to_contain_text("[1]")
    expect(page.locator("#kb-sources")).to_contain_text(UNIQUE_TITLE)
    expect(page.locator("#kb-sources")).to_contain_text("Gemeente Wormerveld")

    page.get_by_role("tab", name="Documenten").click()
    choice = page.locator("#kb-remove-choice input")
    choice.click()
    choice.fill("Wormerveld")
    page.get_by_role("option", name=f"{UNIQUE_TITLE} ({uploaded.doc_id})").click()
    page.get_by_role("button", name="Verwijderen…").click()
    expect(page.locator("#kb-confirm-text")).to_contain_text(f"Weet u zeker dat u {UNIQUE_TITLE}")
    page.get_by_role("button", name="Ja, definitief verwijderen").click()
    expect(page.locator("#kb-remove-status")).to_contain_text(f"'{uploaded.doc_id}' is verwijderd")
    expect(documents).not_to_contain_text(UNIQUE_TITLE)
    expect(documents).to_contain_text("cop-klantmanagers-gezinsmigranten")

    page.get_by_role("tab", name="Vragen stellen").click()
    again = "Krijgen inburgeraars in de opstartklas in Wormerveld een gratis fiets?"
    _ask(page, again)
    expect(page.locator("#kb-sources")).to_contain_text(f"Bronnen bij: “{again}”")
    expect(page.locator("#kb-sources")).not_to_contain_text(UNIQUE_TITLE)

    # logging out ends the session on the server and empties the admin part
    page.get_by_role("tab", name="Documenten").click()
    page.locator("#kb-logout").click()
    expect(page.locator("#kb-login-status")).to_contain_text("U bent uitgelogd")
    expect(page.locator("#kb-password input")).to_be_visible()
    assert chat_server["kb_admin_gate"].session(cookie["value"]) is None
    assert not [c for c in page.context.cookies() if c["name"] == "kb_admin"]
    actions = [e["action"] for e in read_audit(kb.settings.data_dir / "audit.jsonl")]
    assert actions[-5:] == ["login_failed", "login", "upload", "remove", "logout"], actions
    assert page.outside_requests == []


def test_evaluator_turns_a_thumbs_down_into_an_eval_question_and_runs_it(page, chat_server):
    """The Evaluatie tab end to end: 👎 in the chat, the item in the tab, a question made from it,
    an eval run on that question file, and its result and report."""
    from playwright.sync_api import expect

    from kb.feedback import feedback_path, read_feedback

    # 1. a klantmanager gives 👎 with a comment
    _ask(page, MAP_QUESTION)
    expect(page.locator("#kb-chat")).to_contain_text("veertig uur")
    page.get_by_label("Toelichting (optioneel)").fill("Ik miste de taalrijke omgeving")
    page.get_by_role("button", name="👎 Niet nuttig").click()
    expect(page.locator("#kb-feedback-status")).to_contain_text("Bedankt")
    item = read_feedback(feedback_path(chat_server["kb"].settings))[-1]
    assert item["rating"] == "down" and item["passages"][0]["cited"] == 1

    # 2. the evaluator logs in on the Evaluatie tab and sees it, newest first
    page.get_by_role("tab", name="Evaluatie").click()
    page.locator("#kb-eval-user").get_by_role("textbox").fill(chat_server["evaluator"][0])
    page.locator("#kb-eval-password input").fill(chat_server["evaluator"][1])
    page.locator("#kb-eval-login").click()
    expect(page.locator("#kb-eval-whoami")).to_contain_text("ingelogd als evaluator")
    table = page.locator("#kb-eval-feedback")
    expect(table).to_contain_text(item["id"])
    expect(table).to_contain_text("Ik miste de taalrijke omgeving")
    expect(table).to_contain_text("[1] CoP Inburgering Klantmanagers")

    # 3. ... and turns it into an eval question: the cited passage is preselected, key fact typed
    choice = page.locator("#kb-eval-item input")
    choice.click()
    page.get_by_role("option", name=item["id"]).click()
    expect(page.locator("#kb-eval-question").get_by_role("textbox")).to_have_value(MAP_QUESTION)
    expect(page.locator("#kb-eval-passages")).to_contain_text("veertig uur werkervaring")
    page.locator("#kb-eval-facts").get_by_role("textbox").fill("veertig uur\ntaalrijke omgeving")
    page.locator("#kb-eval-add").click()
    expect(page.locator("#kb-eval-add-status")).to_contain_text(f"Vraag {item['id']} toegevoegd aan feedback.jsonl")
    question_file = chat_server["kb"].settings.data_dir / "evals" / "questions" / "feedback.jsonl"
    (line,) = question_file.read_text(encoding="utf-8").splitlines()
    assert '"key_facts": ["veertig uur", "taalrijke omgeving"]' in line

    # 4. runs the eval on that question file (chosen for it already), with a progress bar
    expect(page.locator("#kb-eval-run-file input")).to_have_value("feedback.jsonl")
    page.locator("#kb-eval-start").click()
    expect(page.locator("#kb-eval-run-status")).to_contain_text("Klaar: run", timeout=180_000)

    # 5. and sees the result: the question found in the top 5 with both key facts, and the report
    summary = page.locator("#kb-eval-summary")
    expect(summary).to_contain_text(item["id"])
    expect(summary.get_by_role("row", name=item["id"])).to_contain_text("ja")
    expect(summary.get_by_role("row", name=item["id"])).to_contain_text("1.000")
    report = page.frame_locator("#kb-eval-report iframe")
    expect(report.get_by_role("heading", name="CoP Kennisbank — evaluation report")).to_be_visible()
    assert "allow-scripts" not in (page.locator("#kb-eval-report iframe").get_attribute("sandbox") or "")
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(EVAL_SCREENSHOT))
    page.evaluate("window.scrollBy(0, document.querySelector('#kb-eval-summary').getBoundingClientRect().top - 80)")
    page.wait_for_timeout(1500)  # the report's frame is painted a moment after it scrolled into view
    page.screenshot(path=str(EVAL_RESULT_SCREENSHOT))
    assert page.outside_requests == []


def test_documents_tab_explains_how_to_enable_uploads_without_admin(browser, chat_server, e5, monkeypatch):
    """Without KB_ADMIN_USER/KB_ADMIN_PASSWORD the tab says uploads are off and how to turn them on."""
    from playwright.sync_api import expect

    from kb.chat.app import launch

    port = _free_port()
    demo = launch(chat_server["kb"], host="127.0.0.1", port=port, ingest_corpus=False, block=False, admin=None)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        page.set_default_timeout(TIMEOUT)
        page.goto(f"http://127.0.0.1:{port}/")
        page.get_by_role("tab", name="Documenten").click()
        expect(page.locator("#kb-admin-disabled")).to_contain_text("uitgeschakeld")
        expect(page.locator("#kb-admin-disabled")).to_contain_text("KB_ADMIN_PASSWORD")
        expect(page.locator("#kb-user")).to_have_count(0)
    finally:
        context.close()
        demo.close()


def test_server_listens_on_loopback_only(chat_server):
    host = urlparse(chat_server["url"]).hostname
    assert host == "127.0.0.1"
    assert os.environ.get("GRADIO_ANALYTICS_ENABLED") == "False"


@pytest.fixture(scope="module")
def llm_chat_server(sample_data_dir, e5, local_llm_url):
    """The app with the REAL local model (Gemma 3 270M) writing the answers."""
    from kb.chat.app import launch
    from kb.config import Settings
    from kb.service import build_kb

    settings = local_llm_settings(Settings().with_(data_dir=sample_data_dir, corpus_dir=CORPUS), local_llm_url)
    kb = build_kb(settings, embedding=e5)
    port = _free_port()
    demo = launch(kb, host="127.0.0.1", port=port, ingest_corpus=False, block=False)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        demo.close()


def test_generated_answer_streams_then_shows_verified_sources(browser, llm_chat_server):
    """With a language model the draft appears while it is written, marked as unchecked; then the
    verified answer replaces it and the sources panel fills in."""
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="nl-NL")
    page = context.new_page()
    wait = 180_000  # ms: the tiny model needs ~10–40 s on 2 busy cores
    page.goto(llm_chat_server)
    expect(page.get_by_text("Een taalmodel schrijft de antwoorden")).to_be_visible()
    _ask(page, MAP_QUESTION)
    chat, sources = page.locator("#kb-chat"), page.locator("#kb-sources")
    expect(sources).to_contain_text("zin voor zin gecontroleerd")
    expect(chat).to_contain_text("Concept van het taalmodel", timeout=wait)  # streamed draft, marked unchecked
    expect(sources).to_contain_text(f"Bronnen bij: “{MAP_QUESTION}”", timeout=wait)  # done
    expect(chat).not_to_contain_text("Concept van het taalmodel")
    expect(_last_answer(page)).to_contain_text("[1]")  # a verified generated answer or the extractive fallback
    context.close()
