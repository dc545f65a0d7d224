"""The list of package data the lab reads (:func:`stackdrill.lab.package_data.lab_package_files`)
names every file a lab module reads beside itself, and each is in the checkout's package;
``tests/unit/test_installed_wheel.py`` checks that an installed wheel holds them too."""

from __future__ import annotations

from pathlib import Path

from stackdrill.lab.cloud import configs
from stackdrill.lab.cloud.release import RELEASES
from stackdrill.lab.package_data import lab_package_files
from stackdrill.lab.prerequisites import guest_fetch_script

ROOT = Path(__file__).resolve().parents[2]
READERS = {"stackdrill/lab/cloud/release.py": "the OpenStack lock files",
           "stackdrill/lab/cloud/configs.py": "the modules the lab's services load (inhost/)",
           "stackdrill/lab/prerequisites.py": "the guest packages' download script"}
"""The lab's modules that read a file beside them, and what they read."""
NOT_READERS = {"stackdrill/lab/hidden.py": "finds the checkout it runs from, if any",
               "stackdrill/lab/package_data.py": "the list itself"}
"""The lab's modules that name their ``__file__`` for anything else."""


def test_every_lab_module_that_names_its_file_is_accounted_for() -> None:
    naming = {path.relative_to(ROOT).as_posix()
              for path in (ROOT / "stackdrill" / "lab").rglob("*.py")
              if "__file__" in path.read_text()}
    assert naming == set(READERS) | set(NOT_READERS)


def test_the_list_holds_what_those_modules_read_and_each_is_in_the_checkout() -> None:
    files = lab_package_files()
    expected = [*(release.lock for release in RELEASES),
                *sorted(configs.INHOST_SOURCES.glob("*.py")), guest_fetch_script()]
    assert files == [path.relative_to(ROOT).as_posix() for path in expected]
    assert "stackdrill/lab/cloud/openstack.lock" in files
    assert "stackdrill/lab/cloud/openstack-previous.lock" in files
    assert "stackdrill/lab/guest/fetch-guest-packages" in files
    assert sum(name.startswith("stackdrill/lab/cloud/inhost/") for name in files) >= 3
    assert all((ROOT / name).is_file() for name in files)
