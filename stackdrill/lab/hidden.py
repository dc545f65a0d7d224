"""The machine's trees that lab hosts do not see.

A lab host's root is an overlay of the machine's own root. Whatever the machine changes while
the lab runs would show through into every host, and overlayfs leaves changes to its lower
layer undefined: home directories, temporary directories and working trees change all the
time (a ``find /`` on a host once failed because ``/root/.local`` vanished under it). Each
of those trees is an empty tmpfs inside a host; the few paths a host needs from them (the
Python interpreter behind the OpenStack virtualenv, when it lives under ``/root``) are bound
back read-only.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

#: Home and temporary directories: hidden from every lab host.
HIDDEN_TREES = ("/home", "/root", "/tmp", "/var/tmp")  # noqa: S108 (hidden, not used)
#: The system's own trees: a working tree inside one of them is never hidden (a lab host needs
#: them), nor is one of them hidden as a checkout's parent.
SYSTEM_TREES = ("/usr", "/opt", "/etc", "/var", "/srv", "/boot", "/mnt", "/media")


def _under(path: Path, tree: Path) -> bool:
    return path == tree or tree in path.parents


def working_tree(package_file: str = __file__) -> Path | None:
    """The tree of working copies this stackdrill runs from, if it runs from a checkout (not an
    installed wheel): the checkout's parent, where its sibling checkouts and work live, unless
    that is a system tree or the root; then the checkout alone."""
    for parent in Path(package_file).resolve().parents:
        if (parent / "pyproject.toml").exists() and (parent / "stackdrill").is_dir():
            if _system(parent):
                return None
            return parent if _system(parent.parent) else parent.parent
    return None


def _system(path: Path) -> bool:
    return path == Path("/") or any(_under(path, Path(tree)) for tree in SYSTEM_TREES)


def outermost(paths: Iterable[Path]) -> list[Path]:
    """The paths, without those inside another of them, sorted."""
    unique = sorted(set(paths))
    return [p for p in unique if not any(o != p and _under(p, o) for o in unique)]


def venv_interpreter_prefix(venv: Path) -> Path | None:
    """The installation a virtualenv's interpreter comes from (``home`` in ``pyvenv.cfg``)."""
    cfg = venv / "pyvenv.cfg"
    if not cfg.exists():
        return None
    for line in cfg.read_text().splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "home" and value.strip():
            return Path(value.strip()).resolve().parent
    return None


def _mode(tree: Path) -> str:
    if tree == Path("/root"):
        return "0700"
    return "1777" if tree.name == "tmp" else "0755"


def nspawn_hiding(hidden: Sequence[Path], needed: Sequence[Path]) -> list[str]:
    """systemd-nspawn arguments: a tmpfs over each hidden tree, and each needed path that lies
    inside one bound back read-only."""
    trees = outermost(hidden)
    args = [f"--tmpfs={tree}:mode={_mode(tree)}" for tree in trees]
    for path in sorted(set(needed)):
        if any(_under(path, tree) for tree in trees) and path.exists():
            args.append(f"--bind-ro={path}")
    return args


def default_hidden() -> list[Path]:
    extra = working_tree()
    return [Path(tree) for tree in HIDDEN_TREES] + ([extra] if extra else [])
