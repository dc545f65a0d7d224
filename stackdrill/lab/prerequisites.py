"""What the lab needs of the machine it runs on, and what to tell an operator who lacks some of
it: in a checkout, its ``scripts/setup`` (or ``scripts/fetch-guest-packages``); where stackdrill
runs from an installed wheel (``uv tool install``, ``pipx install``), which has no scripts, the
Debian packages and the commands that install them, and ``stackdrill lab fetch-guest``, which
runs the guest packages' download script the package ships. Each hint fits on the one line of a
:class:`~stackdrill.lab.system.LabError`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

LAB_PACKAGES: tuple[str, ...] = (
    "systemd", "systemd-container", "dbus", "openssh-server", "openssh-client",
    "libvirt-daemon-system", "libvirt-clients", "qemu-system-x86", "qemu-utils",
    "xfsprogs", "iproute2", "iptables", "util-linux", "procps", "python3", "python3-venv",
    "mariadb-server", "mariadb-client", "rabbitmq-server", "memcached", "tgt",
    "qemu-block-extra", "libiscsi-bin", "libvirt-dev", "pkg-config", "gcc", "python3-dev",
    "chromium", "libfuse2", "psmisc", "curl", "rsync", "stress-ng",
    "galera-4", "haproxy", "keepalived",
    "prometheus", "prometheus-alertmanager", "prometheus-node-exporter",
    "prometheus-mysqld-exporter",
)
"""The Debian packages the lab needs on the machine: ``APT_PACKAGES`` of ``scripts/setup``
(a unit test keeps the two equal). Lab hosts' roots are overlays of the machine's own, so the
services the lab's cloud runs come from these (``galera-4``, ``haproxy`` and ``keepalived`` for
``lab up --topology ha``; the other topology masks the last two; the ``prometheus`` packages
for the lab's monitoring, :mod:`stackdrill.lab.cloud.monitoring`)."""

TOOL_PACKAGES: Mapping[str, str] = {
    "systemd-nspawn": "systemd-container",
    "mkfs.xfs": "xfsprogs",
    "ip": "iproute2",
    "ssh-keygen": "openssh-client",
    "nsenter": "util-linux",
    "losetup": "mount",
    "mount": "mount",
    "umount": "mount",
    "truncate": "coreutils",
    "rm": "coreutils",
    "systemctl": "systemd",
    "sh": "dash",
    "virsh": "libvirt-clients",
    "qemu-system-x86_64": "qemu-system-x86",
}
"""The Debian package of each command the lab runs on the machine."""

UV_DIR = Path("/opt/stackdrill-uv")
"""Where ``scripts/setup`` installs uv as root when the one on PATH is not its version."""

FETCH_GUEST_COMMAND = "stackdrill lab fetch-guest"
"""The command that downloads the canary guest's packages: it runs :func:`guest_fetch_script`."""


def checkout_script(name: str, package_file: str = __file__) -> Path | None:
    """``scripts/<name>`` of the checkout this stackdrill runs from (an editable install or the
    source tree itself), or None when it runs from an installed wheel, which has no scripts."""
    script = Path(package_file).resolve().parents[2] / "scripts" / name
    return script if script.is_file() else None


def guest_fetch_script(package_file: str = __file__) -> Path:
    """The script that downloads the canary guest's packages, shipped inside the package
    (``stackdrill/lab/guest/fetch-guest-packages``); a checkout's ``scripts/fetch-guest-packages``
    runs the same file."""
    return Path(package_file).resolve().parent / "guest" / "fetch-guest-packages"


def packages_of(tools: Sequence[str]) -> list[str]:
    """The Debian packages of ``tools`` (by their names, or paths), each once, in order; a tool
    of no known package gives none."""
    packages: list[str] = []
    for tool in tools:
        package = TOOL_PACKAGES.get(Path(tool).name)
        if package is not None and package not in packages:
            packages.append(package)
    return packages


def lab_packages_hint(package_file: str = __file__) -> str:
    """What installs the lab's Debian packages: the checkout's ``scripts/setup``, else
    ``apt-get install`` of every one of them."""
    setup = checkout_script("setup", package_file)
    if setup is not None:
        return f"install the lab's packages as root: {setup}"
    return ("install the lab's packages as root: apt-get install --no-install-recommends "
            + " ".join(LAB_PACKAGES))


def missing_tools(tools: Sequence[str], package_file: str = __file__) -> str:
    """One line for commands the machine lacks: which they are, their Debian packages, and
    what installs them, in a checkout or not."""
    packages = packages_of(tools)
    noun = "package" if len(packages) == 1 else "packages"
    from_packages = f" (Debian {noun} {', '.join(packages)})" if packages else ""
    return f"{', '.join(tools)}{from_packages}; {lab_packages_hint(package_file)}"


def uv_hint(package_file: str = __file__) -> str:
    """What puts uv where the lab looks for it (PATH, then :data:`UV_DIR`)."""
    setup = checkout_script("setup", package_file)
    if setup is not None:
        return f"install it as root: {setup}"
    return (f"install it as root: python3 -m venv {UV_DIR} && {UV_DIR}/bin/pip install uv "
            f"(or put a uv on PATH)")


def guest_packages_hint(package_file: str = __file__) -> str:
    """What downloads the Debian packages the canary guest is built from (a kernel and
    busybox-static, into the guest cache), and what happens without them."""
    fetch = checkout_script("fetch-guest-packages", package_file)
    where = (f"download them as root: {fetch}" if fetch is not None else
             f"download them as root: {FETCH_GUEST_COMMAND} (it runs "
             f"{guest_fetch_script(package_file)})")
    return f"{where}; without them the lab's canaries boot a blank image, with no heartbeat"
