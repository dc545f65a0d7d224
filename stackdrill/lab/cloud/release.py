"""Which OpenStack the lab's cloud runs: the current series (the default) or the series before
it, to rehearse an upgrade from.

Each release has its own lock file beside this module (``scripts/lock-openstack`` makes both)
and its own virtualenv on the machine, which every lab host sees through its overlay of the
machine's root; the hosts' units and configuration name the chosen one's commands. ``lab up``
records the release it built under the lab directory, beside the topology, and everything that
needs the lab's virtualenv reads it back; ``lab up`` of another release is refused until ``lab
down``, which removes the record.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from stackdrill.core.errors import BadInput
from stackdrill.lab.cloud.layout import PASTE_FILES, SHIPPED_FILES, VENV
from stackdrill.lab.topology import LabPaths, recorded_topology


class ReleaseError(BadInput):
    """A release that does not exist, or one other than the lab that is up."""


@dataclass(frozen=True)
class Release:
    """``name``: what ``lab up --release`` calls it (its ``series`` and ``codename`` are
    accepted too); ``lock``: what its virtualenv ``venv`` is installed from."""

    name: str
    series: str
    codename: str
    lock: Path
    venv: Path

    @property
    def bin(self) -> Path:
        return self.venv / "bin"

    def __str__(self) -> str:
        return f"{self.name} (OpenStack {self.series} {self.codename.title()})"


CURRENT = Release("current", "2026.2", "hibiscus", Path(__file__).with_name("openstack.lock"),
                  VENV)
PREVIOUS = Release("previous", "2026.1", "gazpacho",
                   Path(__file__).with_name("openstack-previous.lock"),
                   VENV.with_name(f"{VENV.name}-2026.1"))
RELEASES = (CURRENT, PREVIOUS)


def release_named(name: str) -> Release:
    """The release called ``name``, ``series`` or ``codename`` (``previous``, ``2026.1`` or
    ``gazpacho``)."""
    wanted = name.strip().lower()
    for release in RELEASES:
        if wanted in (release.name, release.series, release.codename):
            return release
    known = ", ".join(f"{r.name} ({r.series}, {r.codename})" for r in RELEASES)
    raise ReleaseError(f"lab release {name!r}: expected one of {known}")


def recorded_series(paths: LabPaths) -> str | None:
    """The series ``lab up`` recorded under ``paths``, as written; a lab built before the
    record runs the current one; None when no lab was built there."""
    try:
        return paths.release.read_text().strip()
    except OSError:
        return CURRENT.series if recorded_topology(paths) is not None else None


def built_release(paths: LabPaths) -> Release:
    """The release of the lab under ``paths``, the current one when none was built."""
    series = recorded_series(paths)
    return CURRENT if series is None else release_named(series)


def describe_series(series: str) -> str:
    """A recorded series as the operator reads it (one no release names any longer, too)."""
    try:
        return str(release_named(series))
    except ReleaseError:
        return f"OpenStack {series}"


def record_release(paths: LabPaths, release: Release) -> None:
    paths.root.mkdir(parents=True, exist_ok=True)
    paths.release.write_text(release.series + "\n")


def refuse_other_release(paths: LabPaths, wanted: Release) -> None:
    """A lab of another release is up (or its ``lab up`` did not finish): one line."""
    built = recorded_series(paths)
    if built is not None and built != wanted.series:
        raise ReleaseError(f"the lab under {paths.root} is up with release "
                           f"{describe_series(built)}, not {wanted}: lab down first "
                           f"(stackdrill lab down)")


# -- installing another release on a lab host ---------------------------------------------------
SWITCH = "/usr/local/sbin/stackdrill-lab-release"
"""On every lab host: ``stackdrill-lab-release SERIES`` installs SERIES on that host the way the
lab installs a release, as a package upgrade (or downgrade) would on a real host."""
RUNNING = "/etc/stackdrill-lab/release"
"""On every lab host: the series its units and configuration run, as the switch last wrote it."""


def switch_script() -> str:
    """The lab host's ``stackdrill-lab-release``: every unit and configuration file naming a
    release's virtualenv names the chosen one's instead (the privsep helpers too), the files the
    release ships to /etc are copied from it, systemd reloads the units, and the host records
    the series. Services keep running the old code until they are restarted, as after a
    package install. Swift's units and tools keep the release the lab was built with: Object
    Storage is upgraded on its own (the operations guide's "With the exception of Object
    Storage"), and the upgrade procedures leave it alone."""
    cases = "\n".join(
        f"  {r.series}|{r.name}|{r.codename}) venv={r.venv}; series={r.series} ;;"
        for r in RELEASES)
    any_venv = f"{VENV}(-[0-9.]+)?/"
    shipped = " ".join((*PASTE_FILES, *SHIPPED_FILES))
    return f"""#!/bin/sh
# Generated by stackdrill lab up. Usage: {Path(SWITCH).name} SERIES ({', '.join(
        r.series for r in RELEASES)})
# Installs that OpenStack release on this host: units and configuration run its virtualenv.
set -eu
case "${{1:-}}" in
{cases}
  *) echo "usage: $0 {'|'.join(r.series for r in RELEASES)}" >&2; exit 2 ;;
esac
test -x "$venv/bin/python" || {{ echo "$venv: no virtualenv of OpenStack $series" >&2; exit 1; }}
for file in $(grep -rlE '{any_venv}' /etc/systemd/system /etc/nova /etc/cinder /etc/glance \\
                /etc/neutron /etc/keystone /etc/placement 2>/dev/null | grep -v /swift || true); do
  sed -i -E "s#{any_venv}#$venv/#g" "$file"
done
for rel in {shipped}; do
  if [ -e "/etc/$rel" ]; then cp "$venv/etc/$rel" "/etc/$rel"; fi
done
mkdir -p {Path(RUNNING).parent}
echo "$series" > {RUNNING}
systemctl daemon-reload
echo "$(hostname): OpenStack $series installed from $venv"
"""


def running_release(paths: LabPaths) -> Release:
    """The release the lab's first controller runs: the series ``stackdrill-lab-release`` last
    installed there (an upgrade), else the one ``lab up`` built."""
    topology = recorded_topology(paths)
    if topology is not None:
        try:
            series = (paths.merged(topology.first_controller.name)
                      / RUNNING.lstrip("/")).read_text().strip()
        except OSError:
            series = ""
        if series:
            try:
                return release_named(series)
            except ReleaseError:
                pass
    return built_release(paths)


def upgrade_inventory(built: Release) -> dict[str, str]:
    """The inventory's ``upgrade`` key of a lab built with ``built``, the release before the
    current one: each host's switch installs the current release, and puts ``built`` back."""
    return {"install": f"{SWITCH} {CURRENT.series}",
            "install_previous": f"{SWITCH} {built.series}",
            "bin_dir": str(CURRENT.bin)}
