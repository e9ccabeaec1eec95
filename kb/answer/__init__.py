"""Answering: the extractive answerer, sentence features and vectors, the language-model path."""
