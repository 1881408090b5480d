"""Make this collection importable as ``ansible_collections.clickstream.aws``.

``ansible_collections`` is a namespace package: the bundled collections
(amazon.aws, ...) live in site-packages, this one under the project's
``collections/`` folder. Putting that folder on ``sys.path`` joins the two.
"""

import sys
from pathlib import Path

COLLECTIONS_ROOT = Path(__file__).resolve().parents[4]
PROJECT_ROOT = COLLECTIONS_ROOT.parent

if str(COLLECTIONS_ROOT) not in sys.path:
    sys.path.insert(0, str(COLLECTIONS_ROOT))
