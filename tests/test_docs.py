"""The documents that are made from the code, or that name its files, are true of it."""

import re
from pathlib import Path

from curvegan.schemas import reference

ROOT = Path(__file__).resolve().parents[1]


def test_the_key_reference_is_current():
    """docs/config.md is what `python -m curvegan.schemas` prints: regenerate it after declaring a key."""
    assert (ROOT / "docs" / "config.md").read_text() == reference()


def test_every_file_the_extending_guide_names_exists():
    text = (ROOT / "docs" / "extending.md").read_text()
    named = {p for p in re.findall(r"`((?:src|configs|tests)/[\w/.]+\.(?:py|yaml))`", text) if "NAME" not in p}
    assert named and all((ROOT / path).exists() for path in named), sorted(p for p in named if not (ROOT / p).exists())
