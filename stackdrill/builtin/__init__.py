"""The built-in faults, recoveries, probes and Gherkin steps: ``stackdrill.builtin.faults``,
``.recovery``, ``.probes`` and ``.steps``, and the drills stackdrill ships, as feature files
(:func:`shipped_drills`). Nothing else lives here.

Their source is the checkout's top-level ``faults/``, ``recovery/``, ``probes/`` and ``steps/``
folders, where an operator looks for them. A wheel ships them inside this package (the build
hook in ``hatch_build.py``), so that nothing is installed under a generic top-level name. In a
checkout, and in an editable install of one, this package finds them in the checkout itself.
The same holds for the drills, the checkout's ``features/``: a wheel ships their feature files
in ``features/`` here, with ``pytest.ini``, their pytest configuration.
"""

from __future__ import annotations

from pathlib import Path

_CHECKOUT = Path(__file__).resolve().parents[2]

_SHIPPED = (Path(__file__).parent / "faults").is_dir()

if not _SHIPPED and (_CHECKOUT / "faults" / "__init__.py").is_file():
    __path__.append(str(_CHECKOUT))


def shipped_drills() -> Path | None:
    """The folder of the drills stackdrill ships, ``features/``: in this package when installed
    from a wheel, the checkout's own in a checkout or an editable install of one; None when
    neither has it."""
    for entry in __path__:
        folder = Path(entry) / "features"
        if folder.is_dir():
            return folder
    return None
