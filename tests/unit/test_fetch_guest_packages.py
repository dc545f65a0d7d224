"""The guest packages' download script, shipped in the package
(``stackdrill/lab/guest/fetch-guest-packages``), against fake ``apt-cache``, ``apt-get`` and
``dpkg-deb`` and a fake os-release (``STACKDRILL_OS_RELEASE``): which packages it downloads on
Debian and on Ubuntu, what it records in packages.tsv, and what it refuses; and the two ways to
run it, ``stackdrill lab fetch-guest`` and a checkout's ``scripts/fetch-guest-packages``.
Nothing is downloaded or installed."""

from __future__ import annotations

import hashlib
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from stackdrill.cli import EXIT_HARNESS, EXIT_OK, main
from stackdrill.lab.guest import fetch
from stackdrill.lab.prerequisites import guest_fetch_script

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = guest_fetch_script()
CHECKOUT_SCRIPT = ROOT / "scripts" / "fetch-guest-packages"

APT_CACHE = r"""#!/usr/bin/env bash
echo "apt-cache $*" >>"$FAKE_APT/log"
case "$1" in
  policy)
    version="$(awk -v n="$2" '$1 == n {print $2}' "$FAKE_APT/candidates")"
    if [ -n "$version" ]; then
      printf '%s:\n  Installed: (none)\n  Candidate: %s\n' "$2" "$version"
    fi ;;
  depends)
    grep -q "^$2 " "$FAKE_APT/candidates" || { echo "E: No packages found" >&2; exit 100; }
    echo "$2"
    awk -v n="$2" '$1 == n {print "  Depends: " $2}' "$FAKE_APT/depends" ;;
esac
"""
APT_GET = r"""#!/usr/bin/env bash
echo "apt-get $*" >>"$FAKE_APT/log"
case "$1" in
  update)
    [ ! -f "$FAKE_APT/after-update" ] || cp "$FAKE_APT/after-update" "$FAKE_APT/candidates" ;;
  download)
    spec="${*: -1}"
    name="${spec%%=*}"
    version="${spec#*=}"
    printf 'Version: %s\n' "$version" >"${name}_${version//:/%3a}_amd64.deb" ;;
esac
"""
DPKG_DEB = r"""#!/usr/bin/env bash
[ "$1" = -f ] && [ "$3" = Version ] && sed -n 's/^Version: //p' "$2"
"""

DEBIAN = {"linux-image-amd64": "6.1.999-1", "linux-image-6.1.0-99-amd64": "6.1.999-1",
          "busybox-static": "1:1.35.0-4"}
UBUNTU = {"linux-image-virtual": "6.8.0-99.99", "linux-image-generic": "6.8.0-99.99",
          "linux-image-6.8.0-99-generic": "6.8.0-99.99",
          "linux-modules-6.8.0-99-generic": "6.8.0-99.99",
          "busybox-static": "1:1.36.1-6ubuntu3"}
DEPENDS = {"linux-image-amd64": ["linux-image-6.1.0-99-amd64"],
           "linux-image-virtual": ["linux-image-6.8.0-99-generic"],
           "linux-image-generic": ["linux-image-6.8.0-99-generic",
                                   "linux-modules-extra-6.8.0-99-generic", "linux-firmware"],
           "linux-image-6.8.0-99-generic": ["linux-base", "linux-modules-6.8.0-99-generic"]}
UBUNTU_RELEASE = 'PRETTY_NAME="Ubuntu 24.04.1 LTS"\nID=ubuntu\nID_LIKE=debian\nVERSION_ID="24.04"\n'
DEBIAN_RELEASE = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n'


@dataclass
class FakeApt:
    """A directory of fake apt commands and what they answer: candidate versions, depends."""

    root: Path

    def __post_init__(self) -> None:
        (self.root / "bin").mkdir(parents=True)
        for name, text in (("apt-cache", APT_CACHE), ("apt-get", APT_GET),
                           ("dpkg-deb", DPKG_DEB)):
            (self.root / "bin" / name).write_text(text)
            (self.root / "bin" / name).chmod(0o755)
        self.offer({})
        self.depend(DEPENDS)

    def offer(self, candidates: dict[str, str], after_update: dict[str, str] | None = None) -> None:
        (self.root / "candidates").write_text(
            "".join(f"{name} {version}\n" for name, version in candidates.items()))
        if after_update is not None:
            (self.root / "after-update").write_text(
                "".join(f"{name} {version}\n" for name, version in after_update.items()))

    def depend(self, depends: dict[str, list[str]]) -> None:
        (self.root / "depends").write_text("".join(
            f"{name} {dep}\n" for name, deps in depends.items() for dep in deps))

    def calls(self) -> list[str]:
        log = self.root / "log"
        return log.read_text().splitlines() if log.exists() else []

    def environment(self, cache: Path, os_release: str | None) -> dict[str, str]:
        """What the script reads: the fake apt first on PATH, the cache, the os-release."""
        release = self.root / "os-release"
        if os_release is None:
            release.unlink(missing_ok=True)
        else:
            release.write_text(os_release)
        return {"PATH": f"{self.root / 'bin'}:{os.environ['PATH']}",
                "FAKE_APT": str(self.root), "STACKDRILL_GUEST_CACHE": str(cache),
                "STACKDRILL_OS_RELEASE": str(release)}

    def run(self, cache: Path, os_release: str | None,
            argv: tuple[str, ...] = ("bash", str(SCRIPT))) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, **self.environment(cache, os_release)}
        return subprocess.run(list(argv), env=env, capture_output=True, text=True,
                              timeout=60, check=False)


@pytest.fixture
def apt(tmp_path: Path) -> FakeApt:
    return FakeApt(tmp_path / "apt")


def manifest(cache: Path) -> list[tuple[str, str]]:
    """packages.tsv's (name, version) rows, each file's checksum checked."""
    rows = []
    for line in (cache / "packages.tsv").read_text().splitlines():
        name, version, file, sha256 = line.split("\t")
        assert hashlib.sha256((cache / file).read_bytes()).hexdigest() == sha256
        rows.append((name, version))
    return rows


def downloads(apt: FakeApt) -> list[str]:
    return [call.split()[-1] for call in apt.calls() if call.startswith("apt-get download")]


def test_debian_gets_its_kernel_package_and_busybox(apt: FakeApt, tmp_path: Path) -> None:
    apt.offer(DEBIAN)
    done = apt.run(tmp_path / "cache", DEBIAN_RELEASE)
    assert done.returncode == 0, done.stderr
    assert manifest(tmp_path / "cache") == list(DEBIAN.items())
    assert "apt-get update -qq" not in apt.calls()
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == [
        "busybox-static_1%3a1.35.0-4_amd64.deb", "linux-image-6.1.0-99-amd64_6.1.999-1_amd64.deb",
        "linux-image-amd64_6.1.999-1_amd64.deb", "packages.tsv"]
    assert done.stdout.splitlines()[-1].endswith(
        "linux-image-amd64 6.1.999-1, linux-image-6.1.0-99-amd64 6.1.999-1, "
        "busybox-static 1:1.35.0-4")


def test_ubuntu_gets_the_virtual_kernel_its_modules_and_busybox(apt: FakeApt,
                                                                tmp_path: Path) -> None:
    apt.offer(UBUNTU)
    done = apt.run(tmp_path / "cache", UBUNTU_RELEASE)
    assert done.returncode == 0, done.stderr
    assert manifest(tmp_path / "cache") == [
        ("linux-image-virtual", "6.8.0-99.99"), ("linux-image-6.8.0-99-generic", "6.8.0-99.99"),
        ("linux-modules-6.8.0-99-generic", "6.8.0-99.99"),
        ("busybox-static", "1:1.36.1-6ubuntu3")]
    assert not any("linux-image-amd64" in call or "extra" in call for call in apt.calls())


def test_ubuntu_without_the_virtual_kernel_takes_the_generic_one(apt: FakeApt,
                                                                 tmp_path: Path) -> None:
    apt.offer({k: v for k, v in UBUNTU.items() if k != "linux-image-virtual"})
    done = apt.run(tmp_path / "cache", UBUNTU_RELEASE)
    assert done.returncode == 0, done.stderr
    assert [name for name, _ in manifest(tmp_path / "cache")] == [
        "linux-image-generic", "linux-image-6.8.0-99-generic", "linux-modules-6.8.0-99-generic",
        "busybox-static"]
    assert downloads(apt) == [f"{name}={version}" for name, version in
                              manifest(tmp_path / "cache")]


@pytest.mark.parametrize(("os_release", "first"), [
    ('ID=linuxmint\nID_LIKE="ubuntu debian"\n', "linux-image-virtual"),
    ("ID=ubuntu\n", "linux-image-virtual"),
    ("ID=raspbian\nID_LIKE=debian\n", "linux-image-amd64"),
    (None, "linux-image-amd64"),
])
def test_the_distribution_comes_from_os_release(apt: FakeApt, tmp_path: Path,
                                                os_release: str | None, first: str) -> None:
    apt.offer({**DEBIAN, **UBUNTU})
    done = apt.run(tmp_path / "cache", os_release)
    assert done.returncode == 0, done.stderr
    assert manifest(tmp_path / "cache")[0][0] == first


def test_apt_lists_are_updated_when_they_know_no_kernel(apt: FakeApt, tmp_path: Path) -> None:
    apt.offer({}, after_update=UBUNTU)
    done = apt.run(tmp_path / "cache", UBUNTU_RELEASE)
    assert done.returncode == 0, done.stderr
    assert apt.calls().count("apt-get update -qq") == 1
    assert len(manifest(tmp_path / "cache")) == 4


def test_ubuntu_without_a_kernel_is_refused(apt: FakeApt, tmp_path: Path) -> None:
    apt.offer({"busybox-static": "1:1.36.1-6ubuntu3"})
    done = apt.run(tmp_path / "cache", UBUNTU_RELEASE)
    assert done.returncode == 1
    assert done.stderr.strip() == ("fetch-guest-packages: apt knows neither "
                                   "linux-image-virtual nor linux-image-generic here; no guest")
    assert "apt-get update -qq" in apt.calls() and downloads(apt) == []
    assert not (tmp_path / "cache" / "packages.tsv").exists()


def test_ubuntu_without_the_kernels_modules_is_refused(apt: FakeApt, tmp_path: Path) -> None:
    apt.offer({k: v for k, v in UBUNTU.items() if not k.startswith("linux-modules")})
    done = apt.run(tmp_path / "cache", UBUNTU_RELEASE)
    assert done.returncode == 1
    assert "apt knows no linux-modules-6.8.0-99-generic (the modules of " \
           "linux-image-6.8.0-99-generic)" in done.stderr
    assert downloads(apt) == []


def test_debian_without_a_kernel_is_refused_as_before(apt: FakeApt, tmp_path: Path) -> None:
    apt.offer(UBUNTU)
    done = apt.run(tmp_path / "cache", DEBIAN_RELEASE)
    assert done.returncode == 1
    assert done.stderr.strip() == ("fetch-guest-packages: apt knows no "
                                   "linux-image-amd64 here; no guest")


def test_cached_packages_are_kept_and_an_old_kernels_removed(apt: FakeApt,
                                                             tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    apt.offer(UBUNTU)
    assert apt.run(cache, UBUNTU_RELEASE).returncode == 0
    assert apt.run(cache, UBUNTU_RELEASE).returncode == 0
    assert len(downloads(apt)) == 4  # the second run found every candidate cached
    newer = {**UBUNTU, "linux-image-virtual": "6.8.0-100.100",
             "linux-image-6.8.0-100-generic": "6.8.0-100.100",
             "linux-modules-6.8.0-100-generic": "6.8.0-100.100"}
    apt.offer(newer)
    apt.depend({**DEPENDS, "linux-image-virtual": ["linux-image-6.8.0-100-generic"]})
    done = apt.run(cache, UBUNTU_RELEASE)
    assert done.returncode == 0, done.stderr
    assert [name for name, _ in manifest(cache)][1:3] == [
        "linux-image-6.8.0-100-generic", "linux-modules-6.8.0-100-generic"]
    assert not list(cache.glob("*-6.8.0-99-generic_*.deb"))
    assert downloads(apt)[4:] == ["linux-image-virtual=6.8.0-100.100",
                                  "linux-image-6.8.0-100-generic=6.8.0-100.100",
                                  "linux-modules-6.8.0-100-generic=6.8.0-100.100"]


def test_the_checkouts_script_runs_the_shipped_one(apt: FakeApt, tmp_path: Path) -> None:
    """One source of truth: scripts/fetch-guest-packages only runs the file the package ships."""
    text = CHECKOUT_SCRIPT.read_text()
    assert "stackdrill/lab/guest/fetch-guest-packages" in text
    assert "apt-get" not in text
    apt.offer(DEBIAN)
    done = apt.run(tmp_path / "cache", DEBIAN_RELEASE, argv=(str(CHECKOUT_SCRIPT),))
    assert done.returncode == 0, done.stderr
    assert manifest(tmp_path / "cache") == list(DEBIAN.items())


def test_stackdrill_lab_fetch_guest_runs_the_shipped_script(
        apt: FakeApt, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capfd: pytest.CaptureFixture[str]) -> None:
    apt.offer(UBUNTU)
    for name, value in apt.environment(tmp_path / "cache", UBUNTU_RELEASE).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("STACKDRILL_LAB_UNITS", "not-a-naming")  # read by lab up, not here
    assert fetch.missing_guest_packages() is not None
    assert main(["lab", "fetch-guest"]) == EXIT_OK
    assert manifest(tmp_path / "cache")[0][0] == "linux-image-virtual"
    assert "fetch-guest-packages: in " in capfd.readouterr().out
    assert fetch.missing_guest_packages() is None


def test_a_failed_fetch_is_one_line_and_a_harness_exit(
        apt: FakeApt, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capfd: pytest.CaptureFixture[str]) -> None:
    for name, value in apt.environment(tmp_path / "cache", DEBIAN_RELEASE).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(fetch.os, "geteuid", lambda: 1000)
    assert main(["lab", "fetch-guest"]) == EXIT_HARNESS
    said = capfd.readouterr().err.splitlines()
    assert said == ["fetch-guest-packages: apt knows no linux-image-amd64 here; no guest",
                    f"stackdrill: lab: {SCRIPT} exited with status 1; run it as root"]


def test_a_cache_without_packages_is_named_with_the_command_that_fills_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STACKDRILL_GUEST_CACHE", str(tmp_path / "empty"))
    missing = fetch.missing_guest_packages()
    assert missing is not None
    assert missing.startswith(f"no guest packages in {tmp_path / 'empty'} ")
    assert "\n" not in missing
