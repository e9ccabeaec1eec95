"""``python -m evals run|report|compare|gate|thresholds ...`` (the same commands as ``kb eval``)."""

from evals.cli import eval_group

if __name__ == "__main__":
    eval_group(prog_name="python -m evals")
