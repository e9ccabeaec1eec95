"""Generated answers whose every kept sentence carries a verified citation.

Steps: the extractive answer is made first (milliseconds; it is the fallback) → the model
gets the question and the top passages as numbered sources and streams its answer →
each sentence is checked against the source(s) it cites (:mod:`kb.answer.llm.verify`) → sentences
the sources do not back are dropped and reported → if too little remains, or the model is
unreachable, the extractive answer is shown with a note saying so.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Generator
from dataclasses import dataclass, field

from llama_index.core.llms import LLM

from kb.answer.extractive import ExtractiveAnswerer, cite
from kb.answer.llm.backends import LLMUnavailable, stream_chat, with_retries
from kb.answer.llm.claims import DraftSentence, split_draft
from kb.answer.llm.prompts import (
    CONDENSE_TEMPLATE,
    SOURCE_CLOSE,
    SOURCE_OPEN,
    answer_messages,
    history_block,
    says_not_found,
)
from kb.answer.llm.verify import CitationVerifier, Support
from kb.nl.text import fold, normalize_whitespace, tokenize
from kb.privacy.injection import asks_for_secret, new_contacts
from kb.records import Citation, Claim, DraftDelta, Passage, Query

log = logging.getLogger(__name__)

NOTICE_UNAVAILABLE = "Het taalmodel was niet bereikbaar; dit is het antwoord met letterlijke citaten uit de bronnen."
NOTICE_UNSUPPORTED = (
    "Het taalmodel gaf geen antwoord dat de bronnen voldoende onderbouwen; "
    "dit is daarom het antwoord met letterlijke citaten uit de bronnen."
)
REASONS = {
    "unsupported": "De aangehaalde bron zegt dit niet (of niet zo).",
    "bad-reference": "Verwijst naar een bron die niet bij de vraag is meegegeven.",
    "uncited": "Geen bron genoemd, en geen van de bronnen zegt dit.",
    "numbers": "Een getal in deze zin staat niet in de aangehaalde bron.",
    "actors": "De organisatie of rol in deze zin staat niet in de aangehaalde bron.",
    "contact": "Een webadres, telefoonnummer of e-mailadres in deze zin staat niet in de aangehaalde bron.",
    "secret": "De zin vraagt om een wachtwoord, DigiD-gegevens of pincode; daar vraagt de kennisbank nooit om.",
}


@dataclass(frozen=True)
class GenerationConfig:
    max_sources: int = 5
    min_kept_fraction: float = 0.5  # fewer verified sentences than this → extractive answer
    retries: int = 2
    timeout: float = 60.0


@dataclass
class Drafted:
    """What an answerer produced, before the service wraps it in an :class:`~kb.records.Answer`."""

    text: str
    citations: list[Citation]
    abstained: bool
    confidence: float
    mode: str = "extractive"
    notice: str = ""
    claims: list[Claim] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)  # ms per step


def dropped_notice(count: int) -> str:
    if count == 1:
        return "Eén zin uit het gegenereerde antwoord is weggelaten omdat de bronnen die niet onderbouwen."
    return f"{count} zinnen uit het gegenereerde antwoord zijn weggelaten omdat de bronnen die niet onderbouwen."


class GenerativeAnswerer:
    """An LLM writes the answer from numbered sources; the verifier decides what stays."""

    def __init__(
        self,
        llm: LLM,
        verifier: CitationVerifier,
        fallback: ExtractiveAnswerer,
        config: GenerationConfig | None = None,
    ) -> None:
        self.llm = llm
        self.verifier = verifier
        self.fallback = fallback
        self.config = config or GenerationConfig()

    # -- follow-ups ----------------------------------------------------------------
    def condense(self, question: str, history: list[str]) -> str | None:
        """The follow-up rewritten as a standalone question (llama-index's condense step:
        ``llm.predict`` over a condense template, here in Dutch), or ``None`` if that failed.

        ``CondenseQuestionChatEngine`` itself is not used: its chat memory counts tokens with
        tiktoken, which downloads its encoding at first use (no model hub here), and it would
        own the retrieval that :class:`~kb.service.KnowledgeBase` does.
        """
        try:
            raw = with_retries(
                lambda: self.llm.predict(CONDENSE_TEMPLATE, chat_history=history_block(history), question=question),
                self.config.retries,
            )
        except LLMUnavailable:
            return None
        return clean_condensed(raw, question, history)

    # -- answers -------------------------------------------------------------------
    def stream(self, query: Query, passages: list[Passage]) -> Generator[DraftDelta, None, Drafted]:
        """Generate, verify, and fall back: yields the model's unverified text as it streams in and
        returns what is kept (``drafted = yield from answerer.stream(...)``)."""
        extractive = Drafted(*self.fallback.answer(query, passages))
        sources = passages[: self.config.max_sources]
        if not sources:
            return extractive
        started = time.perf_counter()
        timings: dict[str, float] = {}
        messages = answer_messages(query.text, sources, query.history)
        try:
            raw = ""
            for delta in stream_chat(self.llm, messages, self.config.retries, self.config.timeout):
                if not raw:
                    timings["first_token_ms"] = (time.perf_counter() - started) * 1000
                raw += delta
                yield DraftDelta(delta, raw)
        except LLMUnavailable:
            return self._fallback(extractive, NOTICE_UNAVAILABLE, [])
        timings["generate_ms"] = (time.perf_counter() - started) * 1000
        if says_not_found(raw):
            text, citations, _abstained, confidence = self.fallback.abstain(passages, extractive.confidence)
            return Drafted(text, citations, True, confidence, mode="llm", timings=timings)
        verifying = time.perf_counter()
        claims, supports = self.verify(split_draft(raw), sources)
        timings["verify_ms"] = (time.perf_counter() - verifying) * 1000
        kept = [c for c in claims if c.kept]
        if not kept or len(kept) / len(claims) < self.config.min_kept_fraction:
            drafted = self._fallback(extractive, NOTICE_UNSUPPORTED, claims)
        else:
            drafted = self._compose(claims, supports, sources, len(claims) - len(kept))
        drafted.timings = timings
        return drafted

    def _fallback(self, extractive: Drafted, notice: str, claims: list[Claim]) -> Drafted:
        """The extractive answer, with what the model wrote kept for the record: none of its
        sentences is shown, so none points at one of the answer's citations."""
        shown_none = [Claim(c.text, c.cited, (), c.status, c.support, c.reason) for c in claims]
        extractive.mode, extractive.notice, extractive.claims = "llm-fallback", notice, shown_none
        return extractive

    def verify(
        self, drafts: list[DraftSentence], sources: list[Passage]
    ) -> tuple[list[Claim], list[dict[int, Support]]]:
        """Check every sentence with content; returns claims (numbers still the model's) and, per
        claim, the verified source index → support."""
        claims: list[Claim] = []
        supports: list[dict[int, Support]] = []
        everything = list(range(len(sources)))
        headings = (SOURCE_OPEN, SOURCE_CLOSE, *(f"{p.title} — " for p in sources if p.title))
        for draft in (d for d in drafts if d.has_content):
            if draft.text.startswith(headings):  # the model echoed a source's heading line
                continue
            status, verified, probability = self._check(draft, sources, everything)
            reason = REASONS.get(status, "")
            claim_status = "unsupported" if status in ("numbers", "actors", "contact", "secret") else status
            claims.append(
                Claim(draft.text, draft.cited, tuple(i + 1 for i in verified), claim_status, probability, reason)
            )
            supports.append(verified)
        return claims, supports

    def _check(
        self, draft: DraftSentence, sources: list[Passage], everything: list[int]
    ) -> tuple[str, dict[int, Support], float]:
        """(status, verified source index → support, support probability) for one sentence.

        Never kept, whatever the sources say: a request for a password, DigiD or pincode (a
        source can be a phishing text), and a web address, phone number or e-mail address that
        the cited source does not have (an injected or invented link)."""
        if asks_for_secret(draft.text):
            return "secret", {}, 0.0
        cited = [n - 1 for n in draft.cited if 1 <= n <= len(sources)] or everything
        if new_contacts(draft.text, " ".join(sources[i].text for i in cited)):
            return "contact", {}, 0.0  # before the number rule, which would give a vaguer reason
        status, verified, probability = self._check_support(draft, sources, everything)
        if verified and new_contacts(draft.text, " ".join(sources[i].text for i in verified)):
            return "contact", {}, probability  # attached to a source without that address
        return status, verified, probability

    def _check_support(
        self, draft: DraftSentence, sources: list[Passage], everything: list[int]
    ) -> tuple[str, dict[int, Support], float]:
        bar = self.verifier.threshold()
        if any(not 1 <= n <= len(sources) for n in draft.cited):
            valid = [n - 1 for n in draft.cited if 1 <= n <= len(sources)]
            return "bad-reference", {}, self.verifier.support(draft.text, sources, valid or everything, bar).probability
        if not draft.cited:
            # No marker: keep it only if one source clearly says it, and cite that source.
            attach = self.verifier.threshold(attaching=True)
            candidates = [(self.verifier.support(draft.text, sources, [i], attach), i) for i in everything]
            good = [(s, i) for s, i in candidates if self.verifier.supported(s, attaching=True)]
            if good:
                support, index = max(good, key=lambda pair: pair[0].probability)
                return "attached", {index: support}, support.probability
            return "uncited", {}, max(s.probability for s, _i in candidates)
        cited = [n - 1 for n in draft.cited]
        together = self.verifier.support(draft.text, sources, cited, bar)
        if not together.numbers_ok:
            return "numbers", {}, together.probability
        if not together.actors_ok:
            return "actors", {}, together.probability
        if not self.verifier.supported(together):
            return "unsupported", {}, together.probability
        if len(cited) == 1:
            return "supported", {cited[0]: together}, together.probability
        # Several sources: keep the ones that carry part of the sentence (the best quote's
        # source always; others if they back it alone or share its content words).
        verified: dict[int, Support] = {}
        for index in cited:
            alone = self.verifier.support(draft.text, sources, [index])
            if alone.rules_ok and (index == together.source or self.verifier.supported(alone) or alone.lexical >= 0.5):
                verified[index] = alone
        return "supported", verified, together.probability

    def _compose(
        self, claims: list[Claim], supports: list[dict[int, Support]], sources: list[Passage], dropped: int
    ) -> Drafted:
        numbering: dict[int, int] = {}  # source index → citation number, by first use
        quotes: dict[int, list[tuple[str, int]]] = {}
        parts: list[str] = []
        final: list[Claim] = []
        for claim, verified in zip(claims, supports):
            if not claim.kept:
                final.append(claim)
                continue
            numbers = []
            for index, support in verified.items():
                numbering.setdefault(index, len(numbering) + 1)
                numbers.append(numbering[index])
                quote = (support.quote, support.part) if support.source == index else ("", 0)
                if quote[0] and quote not in quotes.setdefault(index, []):
                    quotes[index].append(quote)
            numbers.sort()
            parts.append(f"{claim.text} {''.join(f'[{n}]' for n in numbers)}")
            final.append(Claim(claim.text, claim.cited, tuple(numbers), claim.status, claim.support, claim.reason))
        citations = [
            cite(n, sources[index], quotes.get(index, []))
            for index, n in sorted(numbering.items(), key=lambda item: item[1])
        ]
        kept = [c for c in final if c.kept]
        confidence = min(c.support for c in kept)
        notice = dropped_notice(dropped) if dropped else ""
        return Drafted(" ".join(parts), citations, False, confidence, "llm", notice, final)


def clean_condensed(raw: str, question: str, history: list[str] | tuple[str, ...] = ()) -> str | None:
    """The first line of the model's rewrite, if it looks like a standalone version of this
    follow-up: sensible length, not an echo of the instructions, and about the same subject
    (it shares a content word with the question or the earlier questions)."""
    lines = [normalize_whitespace(line) for line in (raw or "").splitlines()]
    text = next((line for line in lines if line), "")
    for prefix in ("zelfstandige vraag:", "vraag:", "herschreven vraag:"):
        if text.lower().startswith(prefix):
            text = text[len(prefix) :].strip()
    text = re.sub(r"^(?:[-*•]|\d+[.)])\s+", "", text).strip(" \"'“”‘’")
    if not 3 <= len(text) <= max(300, 3 * len(question)) or not any(ch.isalpha() for ch in text):
        return None
    folded = fold(text)
    if says_not_found(text) or "vervolgvraag" in folded or "eerdere vragen" in folded:
        return None  # an echo of the prompt, not a question
    echoes = [*CONDENSE_TEMPLATE.template.splitlines(), *history]  # the prompt, or an earlier question
    if any(folded.rstrip(".:?! ") == fold(line).lstrip("- ").rstrip(".:?! ") for line in echoes if line):
        return None
    context = set(tokenize(" ".join([question, *history])))
    if not set(tokenize(text)) & context:
        return None
    return text
