"""Evaluation: question set, runner, metrics, baselines, reports, regression gate, benchmark."""
