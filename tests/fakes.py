"""Stand-ins for what is outside the project. Named as fakes; used only where a test needs an
answer it chooses (the real model is exercised in tests/test_llm_real.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from llama_index.core.llms import CompletionResponse, CustomLLM, LLMMetadata
from llama_index.core.llms.callbacks import llm_completion_callback


class FakeModelServer(CustomLLM):
    """FAKE language-model server: replies with scripted text, streamed word by word.

    ``answer`` is the reply to an answer prompt, ``condensed`` the reply to the condense prompt;
    ``fail`` raises the given exception instead (a server that is down). ``prompts`` records
    what the knowledge base sent.
    """

    answer: str = ""
    condensed: str = ""
    fail: Any = None
    prompts: list = []

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(is_chat_model=False, model_name="fake-model-server")

    def _reply(self, prompt: str) -> str:
        self.prompts.append(prompt)
        if self.fail is not None:
            raise self.fail
        return self.condensed if "Zelfstandige vraag:" in prompt else self.answer

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        return CompletionResponse(text=self._reply(prompt))

    @llm_completion_callback()
    def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any):
        reply = self._reply(prompt)

        def gen():
            text = ""
            for i, word in enumerate(reply.split(" ")):
                delta = word if i == 0 else " " + word
                text += delta
                yield CompletionResponse(text=text, delta=delta)

        return gen()


def fake_server(answer: str = "", condensed: str = "", fail: Exception | None = None) -> FakeModelServer:
    return FakeModelServer(answer=answer, condensed=condensed, fail=fail, prompts=[])


Recorder = Callable[[str], None]
