"""The files beside the lab's modules that ``stackdrill lab up`` and ``stackdrill lab
fetch-guest`` read: the OpenStack lock files the services' virtualenvs are installed from, the
modules those services load on the hosts, and the guest packages' download script. They ship in
the wheel as package data; ``tests/unit/test_installed_wheel.py`` checks that an installed
package holds each, and ``tests/unit/test_lab_package_data.py`` that every module of the lab
which reads a file beside itself is listed here."""

from __future__ import annotations

from pathlib import Path

from stackdrill.lab.cloud.configs import INHOST_SOURCES
from stackdrill.lab.cloud.release import RELEASES
from stackdrill.lab.prerequisites import guest_fetch_script

PACKAGE = Path(__file__).resolve().parents[1]
"""The ``stackdrill`` package's directory."""


def lab_package_files() -> list[str]:
    """The package data the lab reads, each relative to the package's parent directory, in
    POSIX form (``stackdrill/lab/cloud/openstack.lock``)."""
    files = [*(release.lock for release in RELEASES), *sorted(INHOST_SOURCES.glob("*.py")),
             guest_fetch_script()]
    return [path.resolve().relative_to(PACKAGE.parent).as_posix() for path in files]
