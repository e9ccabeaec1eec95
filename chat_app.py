"""Start the CoP Kennisbank chat app (a launcher; the app lives in ``kb/chat``).

    KB_ADMIN_USER=trekker KB_ADMIN_PASSWORD='...' .venv/bin/python chat_app.py

Host and port come from ``KB_HOST`` (default 127.0.0.1) and ``KB_PORT`` (or
``GRADIO_SERVER_PORT``, default 7860); all other settings are the usual ``KB_*`` variables.
"""

from __future__ import annotations

import logging
import sys

from kb.offline import apply_offline_env

apply_offline_env()  # before anything imports gradio, chromadb or transformers

from kb.config import Settings  # noqa: E402
from kb.errors import KBError  # noqa: E402


def main() -> int:
    """Read the settings, open the knowledge base and serve the app until stopped."""
    try:
        settings = Settings.from_env()
        logging.basicConfig(
            level=getattr(logging, settings.log_level, logging.WARNING), format="%(levelname)s %(name)s: %(message)s"
        )
        from kb.chat.auth import AdminCredentials

        admin = AdminCredentials.from_settings(settings)  # a too short password stops here, before any model loads
        from kb.chat.app import evaluator_account, launch

        evaluator_account(settings)  # the evaluator's too
        from kb.service import build_kb

        kb = build_kb(settings, log_questions=True)  # chat questions go into the question log (KB_QUESTION_LOG)
        launch(kb, host=settings.host, port=settings.port, ingest_corpus=True, admin=admin)
    except KBError as exc:
        print(f"Fout: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
