"""``python -m stackdrill.cli``: the same as the ``stackdrill`` command."""

from __future__ import annotations

import sys

from stackdrill.cli import main

sys.exit(main())
