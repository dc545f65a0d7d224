"""The built-in faults, recoveries, probes and Gherkin steps: ``stackdrill.builtin.faults``,
``.recovery``, ``.probes`` and ``.steps``. Nothing else lives here.

Their source is the checkout's top-level ``faults/``, ``recovery/``, ``probes/`` and ``steps/``
folders, where an operator looks for them. A wheel ships them inside this package (the build
hook in ``hatch_build.py``), so that nothing is installed under a generic top-level name. In a
checkout, and in an editable install of one, this package finds them in the checkout itself.
"""

from __future__ import annotations

from pathlib import Path

_CHECKOUT = Path(__file__).resolve().parents[2]

_SHIPPED = (Path(__file__).parent / "faults").is_dir()

if not _SHIPPED and (_CHECKOUT / "faults" / "__init__.py").is_file():
    __path__.append(str(_CHECKOUT))
