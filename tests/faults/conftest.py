"""Fault and attack tests: real `tagshare serve` processes and real SQLite files.

Short versions run by default (CI). The long versions (50,000 people, 20
kills, more proxy traffic) run with TAGSHARE_LONG_FAULTS=1:

    TAGSHARE_LONG_FAULTS=1 .venv/bin/python -m pytest tests/faults -q

TAGSHARE_FAULT_SEED=N changes the seed of every random choice (default 7).
"""

from __future__ import annotations

import sys
from pathlib import Path

# The in-process organizations of the integration tests (shares_helpers) are reused here.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "integration"))
