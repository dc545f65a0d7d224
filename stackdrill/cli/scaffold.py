"""``stackdrill init DIR``: a drill project of one's own, written into a new or empty directory.

The project's files are package data, ``stackdrill/cli/scaffold_templates/``: every file there
is written under the same relative path without its ``.tmpl`` suffix, ``PACKAGE`` in a path
becomes the project's Python package, and ``{{project}}``, ``{{package}}`` and
``{{directory}}`` in the text become the project's name, its package and the directory as given.
The names come from the directory's: ``stackdrill init memcached`` writes the project
``memcached-drills`` with the package ``memcached_drills``.
"""

from __future__ import annotations

import argparse
import re
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path, PurePosixPath
from typing import Any

from stackdrill.cli.exits import EXIT_OK, CliError

TEMPLATES = "scaffold_templates"
SUFFIX = ".tmpl"
PACKAGE = "PACKAGE"


def add_parser(sub: Any) -> None:
    """``stackdrill init DIR``."""
    init = sub.add_parser("init", help="write a drill project of your own into a new or empty "
                                       "directory: an example feature, a fault, a recovery and "
                                       "a probe, their registration, a test and a README")
    init.add_argument("directory", metavar="DIR",
                      help="the project's directory (new, or empty); its name names the project")


def project_names(directory: Path) -> tuple[str, str]:
    """The project's name and its Python package's, from the directory's name, ending in
    ``drills``."""
    words = re.findall(r"[a-z0-9]+", directory.resolve().name.lower()) or ["my"]
    if words[-1] != "drills":
        words.append("drills")
    package = "_".join(words)
    if not package.isidentifier():  # it starts with a digit
        package = f"drills_{package}"
    return "-".join(words), package


def project_files(directory: Path) -> dict[PurePosixPath, str]:
    """Each file of the project under ``directory``, by its path there, and its text."""
    project, package = project_names(directory)
    values = {"project": project, "package": package, "directory": str(directory)}
    files: dict[PurePosixPath, str] = {}
    for relative, template in _templates(resources.files("stackdrill.cli") / TEMPLATES,
                                         PurePosixPath()):
        path = PurePosixPath(*(package if part == PACKAGE else part.replace(PACKAGE, package)
                               for part in relative.parts))
        text = template.read_text(encoding="utf-8")
        for key, value in values.items():
            text = text.replace(f"{{{{{key}}}}}", value)
        files[path.with_name(path.name.removesuffix(SUFFIX))] = text
    return dict(sorted(files.items()))


def _templates(folder: Traversable, relative: PurePosixPath
               ) -> list[tuple[PurePosixPath, Traversable]]:
    """Every template under ``folder``, by its path relative to ``relative``'s root."""
    found: list[tuple[PurePosixPath, Traversable]] = []
    for entry in folder.iterdir():
        if entry.is_dir():
            found += _templates(entry, relative / entry.name)
        elif entry.name.endswith(SUFFIX):
            found.append((relative / entry.name, entry))
    return found


def refusal(directory: Path) -> str | None:
    """Why ``directory`` cannot take a new project, or None: it must be new, or empty."""
    if not directory.exists():
        return None
    if not directory.is_dir():
        return f"init: {directory} is not a directory"
    if any(directory.iterdir()):
        return (f"init: {directory} is not empty; init writes a project only into a new or "
                f"empty directory")
    return None


def run(args: argparse.Namespace) -> int:
    """Write the project; a directory that is not new or empty is bad input (one line, exit 2),
    and nothing is written."""
    directory = Path(args.directory)
    problem = refusal(directory)
    if problem is not None:
        raise CliError(problem)
    files = project_files(directory)
    for path, text in files.items():
        target = directory / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    project, package = project_names(directory)
    print(f"init: wrote the drill project {project} (package {package}) in {directory}:")
    for path in files:
        print(f"  {path}")
    print(f"next: stackdrill plan {directory} --lab, then stackdrill run {directory} --lab "
          f"(or --inventory FILE for your cloud; see {directory / 'README.md'})")
    return EXIT_OK
