"""Which of the machine's trees a lab host does not see, and what it keeps from them."""

from __future__ import annotations

from pathlib import Path

import pytest

from stackdrill.lab.hidden import (
    default_hidden,
    nspawn_hiding,
    outermost,
    venv_interpreter_prefix,
    working_tree,
)
from stackdrill.lab.supervisor import nspawn_argv
from stackdrill.lab.topology import LabPaths


def test_home_temporary_and_working_trees_are_hidden_from_every_host(tmp_path: Path) -> None:
    argv = nspawn_argv(LabPaths(tmp_path), "compute1")
    for tree in ("/root", "/home", "/tmp", "/var/tmp"):
        assert any(arg.startswith(f"--tmpfs={tree}:") for arg in argv), tree
    checkout = Path(__file__).resolve().parents[2]
    assert f"--tmpfs={checkout.parent}:mode=0755" in argv


def test_the_checkouts_parent_is_the_working_tree_and_an_installed_package_has_none(
        tmp_path: Path) -> None:
    checkout = Path(__file__).resolve().parents[2]
    assert working_tree() == checkout.parent  # its sibling checkouts are hidden too
    assert working_tree("/usr/lib/python3/dist-packages/stackdrill/lab/hidden.py") is None
    assert checkout.parent in default_hidden()


def test_a_checkout_inside_a_system_tree_is_not_hidden(tmp_path: Path) -> None:
    checkout = tmp_path / "srv/stackdrill-checkout"
    (checkout / "stackdrill/lab").mkdir(parents=True)
    (checkout / "pyproject.toml").write_text("")
    module = str(checkout / "stackdrill/lab/hidden.py")
    assert working_tree(module) == checkout.parent
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("stackdrill.lab.hidden.SYSTEM_TREES", (str(tmp_path / "srv"),))
        assert working_tree(module) is None


def test_a_needed_path_inside_a_hidden_tree_is_bound_back_read_only(tmp_path: Path) -> None:
    home = tmp_path / "home"
    python = home / ".pyenv/versions/3.11.7"
    python.mkdir(parents=True)
    elsewhere = tmp_path / "opt"
    elsewhere.mkdir()
    args = nspawn_hiding([home, home / "user/work"], [python, elsewhere])
    assert args == [f"--tmpfs={home}:mode=0755", f"--bind-ro={python}"]


def test_nested_trees_are_hidden_once() -> None:
    assert outermost([Path("/root/work"), Path("/root"), Path("/tmp")]) == [
        Path("/root"), Path("/tmp")]


def test_the_virtualenvs_interpreter_prefix_comes_from_pyvenv_cfg(tmp_path: Path) -> None:
    prefix = tmp_path / "pyenv/versions/3.11.7"
    (prefix / "bin").mkdir(parents=True)
    (tmp_path / "pyvenv.cfg").write_text(f"home = {prefix / 'bin'}\nversion_info = 3.11.7\n")
    assert venv_interpreter_prefix(tmp_path) == prefix
    assert venv_interpreter_prefix(tmp_path / "none") is None
