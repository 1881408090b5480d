"""Share the postgresql scenario's helpers (pg_testlib) with this scenario."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[4] / "postgresql/molecule/default/tests"))
