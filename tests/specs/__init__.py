"""The remote systems' published contracts, vendored so that a clone is complete (see README.md)."""

from pathlib import Path

SPECS_DIR = Path(__file__).resolve().parent
HIGHLEVEL_SPECS = SPECS_DIR / "highlevel"
