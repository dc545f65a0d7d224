"""The drills ``stackdrill run`` and ``stackdrill plan`` take when no path is given.

In a checkout, or any directory with a ``features`` folder (a project ``stackdrill init``
wrote), that folder, as always. Anywhere else, the drills stackdrill ships: the feature files
an installed wheel holds in ``stackdrill/builtin/features/`` (the checkout's ``features/`` for
an editable install), with their own pytest configuration beside them, so that each keeps its
checkout name (``features/compute/id_mismatch.feature``) in plans, reports and the history.
"""

from __future__ import annotations

from pathlib import Path

from stackdrill.builtin import shipped_drills

LOCAL = "features"


def paths_help() -> str:
    """What ``--help`` says of the paths and of their default."""
    shipped = shipped_drills()
    where = f" ({shipped})" if shipped is not None else ""
    return (f"feature directories or test modules (default: {LOCAL}, when the working "
            f"directory has that folder, as a checkout does; otherwise the drills stackdrill "
            f"ships{where})")


def default_argv(cache_dir: Path | None) -> list[str]:
    """The pytest arguments that name the default drills. A run of the shipped drills keeps
    pytest's cache in ``cache_dir``, not inside the installed package (None: a run without
    pytest's cache)."""
    shipped = shipped_drills()
    if Path(LOCAL).is_dir() or shipped is None:
        return [LOCAL]
    cache = ["-o", f"cache_dir={cache_dir}"] if cache_dir is not None else []
    return [str(shipped), *cache]
