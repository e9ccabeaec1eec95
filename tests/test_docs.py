"""The README is the contract with a new user: it must list every setting the code reads."""

from __future__ import annotations

from kb.config import DOCUMENTED
from tests.conftest import REPO


def test_readme_configuration_table_lists_every_setting():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    table = readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    missing = [name for name in DOCUMENTED if f"`{name}`" not in table]
    assert not missing, f"add to the README's configuration table: {missing}"
