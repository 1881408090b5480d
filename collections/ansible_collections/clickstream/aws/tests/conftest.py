"""Make this collection importable as ``ansible_collections.clickstream.aws``.

``ansible_collections`` is a namespace package: the bundled collections
(amazon.aws, ...) live in site-packages, this one under the project's
``collections/`` folder. Putting that folder on ``sys.path`` joins the two.

The project's ``tests/fixtures`` goes on ``sys.path`` too: the integration
tests run ansible-playbook against a moto server through its ``ansible_moto``.
"""

import sys
from pathlib import Path

COLLECTIONS_ROOT = Path(__file__).resolve().parents[4]
PROJECT_ROOT = COLLECTIONS_ROOT.parent

for extra in (COLLECTIONS_ROOT, PROJECT_ROOT / "tests" / "fixtures"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))
