"""The lab's messages about what the machine lacks tell an operator what to do whether stackdrill
runs from a checkout (its ``scripts/setup``) or from an installed wheel, which has no scripts
(the Debian packages, and the command that installs them; ``stackdrill lab fetch-guest`` for the
guest's packages); each is one line."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from stackdrill.lab import lab as lab_module
from stackdrill.lab import prerequisites
from stackdrill.lab.cloud import install
from stackdrill.lab.guest import debs
from stackdrill.lab.prerequisites import (
    LAB_PACKAGES,
    TOOL_PACKAGES,
    checkout_script,
    guest_fetch_script,
    guest_packages_hint,
    missing_tools,
    uv_hint,
)
from stackdrill.lab.system import LabError, sh

ROOT = Path(__file__).resolve().parents[2]
ESSENTIAL = {"coreutils", "dash", "mount"}
"""Debian's essential packages: on every Debian machine, so scripts/setup does not list them."""


def setup_packages() -> list[str]:
    """``APT_PACKAGES`` of scripts/setup, in order."""
    text = (ROOT / "scripts" / "setup").read_text()
    match = re.search(r"^APT_PACKAGES=\((.*?)^\)", text, flags=re.MULTILINE | re.DOTALL)
    assert match is not None
    return match.group(1).split()


def a_wheel(tmp_path: Path) -> str:
    """Where the module lies in an installed wheel: site-packages, no scripts beside it."""
    module = tmp_path / "site-packages" / "stackdrill" / "lab" / "prerequisites.py"
    module.parent.mkdir(parents=True)
    module.touch()
    return str(module)


@pytest.fixture
def installed(monkeypatch: pytest.MonkeyPatch) -> None:
    """stackdrill as if it ran from an installed wheel."""
    monkeypatch.setattr(prerequisites, "checkout_script", lambda name, package_file="": None)


def test_the_lab_packages_are_the_ones_scripts_setup_installs() -> None:
    assert list(LAB_PACKAGES) == setup_packages()


def test_every_tool_the_lab_checks_for_comes_from_a_package_it_names() -> None:
    for tool in lab_module.REQUIRED_TOOLS:
        assert TOOL_PACKAGES[tool] in (*LAB_PACKAGES, *ESSENTIAL), tool


def test_a_checkout_is_told_its_setup_script() -> None:
    setup = ROOT / "scripts" / "setup"
    assert checkout_script("setup") == setup
    message = missing_tools(["systemd-nspawn", "mkfs.xfs"])
    assert message == ("systemd-nspawn, mkfs.xfs (Debian packages systemd-container, xfsprogs); "
                       f"install the lab's packages as root: {setup}")
    assert uv_hint() == f"install it as root: {setup}"
    assert guest_packages_hint().startswith(
        f"download them as root: {ROOT / 'scripts' / 'fetch-guest-packages'}; ")


def test_an_installed_wheel_is_told_the_packages_and_the_command(tmp_path: Path) -> None:
    wheel = a_wheel(tmp_path)
    assert checkout_script("setup", wheel) is None
    message = missing_tools(["losetup"], wheel)
    assert message.startswith("losetup (Debian package mount); install the lab's packages as "
                              "root: apt-get install --no-install-recommends systemd ")
    assert message.endswith(" ".join(LAB_PACKAGES))
    assert "python3 -m venv /opt/stackdrill-uv" in uv_hint(wheel)
    shipped = Path(wheel).parent / "guest" / "fetch-guest-packages"
    assert guest_fetch_script(wheel) == shipped
    assert guest_packages_hint(wheel).startswith(
        f"download them as root: stackdrill lab fetch-guest (it runs {shipped}); ")
    for text in (message, uv_hint(wheel), guest_packages_hint(wheel)):
        assert "scripts/" not in text
        assert "\n" not in text


def test_the_guest_fetch_script_ships_in_the_package() -> None:
    """The checkout's scripts/fetch-guest-packages runs this same file."""
    script = guest_fetch_script()
    assert script == ROOT / "stackdrill" / "lab" / "guest" / "fetch-guest-packages"
    assert script.read_text().startswith("#!/usr/bin/env bash\n")


def test_the_preflight_names_the_missing_tools_and_their_packages(
        monkeypatch: pytest.MonkeyPatch, installed: None) -> None:
    def which(argv: list[str], **_: Any) -> subprocess.CompletedProcess[str]:
        missing = argv[-1].split()[-1] in ("mkfs.xfs", "nsenter")
        return subprocess.CompletedProcess(argv, 1 if missing else 0, "", "")

    monkeypatch.setattr(lab_module.os, "geteuid", lambda: 0)
    monkeypatch.setattr(lab_module, "sh", which)
    with pytest.raises(LabError) as raised:
        lab_module.Lab._preflight(object.__new__(lab_module.Lab))
    message = str(raised.value)
    assert message.startswith("missing tools: mkfs.xfs, nsenter (Debian packages xfsprogs, "
                              "util-linux); install the lab's packages as root: apt-get install "
                              "--no-install-recommends ")
    assert "\n" not in message


def test_a_command_that_is_not_installed_is_named_with_its_package(installed: None) -> None:
    with pytest.raises(LabError) as raised:
        sh(["/nonexistent/mkfs.xfs", "-f", "/dev/null"])
    message = str(raised.value)
    assert message.startswith("not installed: /nonexistent/mkfs.xfs (Debian package xfsprogs); "
                              "install the lab's packages as root: apt-get install ")
    assert "\n" not in message


def test_uv_that_cannot_be_found_says_how_to_install_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, installed: None) -> None:
    monkeypatch.setattr(install.shutil, "which", lambda name: None)
    monkeypatch.setattr(install, "UV_DIR", tmp_path / "uv")
    with pytest.raises(LabError) as raised:
        install._uv()
    assert str(raised.value) == (
        f"uv not found on PATH nor in {tmp_path / 'uv'}/bin; install it as root: python3 -m "
        f"venv /opt/stackdrill-uv && /opt/stackdrill-uv/bin/pip install uv (or put a uv on "
        f"PATH)")


def test_missing_guest_packages_say_how_to_get_them(tmp_path: Path, installed: None) -> None:
    with pytest.raises(debs.GuestBuildError) as raised:
        debs.read_manifest(tmp_path / "empty")
    message = str(raised.value)
    assert message.startswith(f"no guest packages in {tmp_path / 'empty'} (No such file or "
                              f"directory); download them as root: stackdrill lab fetch-guest "
                              f"(it runs {guest_fetch_script()}); without them ")
    assert "\n" not in message
