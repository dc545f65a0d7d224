from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from stackdrill.engine.plan import dry_run_target
from stackdrill.hosts.service_commands import (
    command,
    find_lxc_container,
    parse_lxc_ls,
    parse_statuses,
)
from stackdrill.hosts.ssh import CommandResult, HostError
from stackdrill.hosts.target import Target
from stackdrill.inventory.loader import parse_inventory
from stackdrill.inventory.model import Inventory, InventoryError
from stackdrill.inventory.profiles import (
    Placement,
    ProfileError,
    available_profiles,
    load_profile,
    parse_os_release,
)

FIXTURES = Path(__file__).parent.parent / "fixtures" / "profiles"


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text()


def os_release(name: str) -> dict[str, str]:
    return parse_os_release(fixture(f"os-release-{name}"))


# --- the profiles' mapping --------------------------------------------------------------------


def test_builtin_profiles_are_shipped() -> None:
    assert {"devstack", "packages", "kolla", "openstack-ansible"} <= set(available_profiles())


@pytest.mark.parametrize(("service", "unit"), [
    ("nova-compute", "devstack@n-cpu"),
    ("cinder-volume", "devstack@c-vol"),
    ("glance-api", "devstack@g-api"),
    ("rabbitmq", "rabbitmq-server"),
    ("mariadb", "mysql"),
    ("tgtd", "tgt"),
    ("libvirtd", "libvirtd"),
])
def test_devstack_units(service: str, unit: str) -> None:
    placement = load_profile("devstack").placement(service)
    assert placement == Placement(service, "systemd", unit=unit)


@pytest.mark.parametrize(("release", "service", "unit"), [
    ("ubuntu", "nova-compute", "nova-compute"),
    ("ubuntu", "ssh", "ssh"),
    ("ubuntu", "tgtd", "tgt"),
    ("linuxmint", "cinder-volume", "cinder-volume"),
    ("rocky", "nova-compute", "openstack-nova-compute"),
    ("rocky", "cinder-volume", "openstack-cinder-volume"),
    ("rocky", "ssh", "sshd"),
    ("rocky", "rabbitmq", "rabbitmq-server"),
])
def test_packages_units_follow_os_release(release: str, service: str, unit: str) -> None:
    placement = load_profile("packages").placement(service, os_release=os_release(release))
    assert placement.unit == unit


def test_packages_refuses_an_unknown_distribution() -> None:
    with pytest.raises(ProfileError, match="no variant for os-release ID 'arch'"):
        load_profile("packages").placement("nova-compute", os_release=os_release("arch"))


def test_packages_without_os_release_says_it_needs_it() -> None:
    with pytest.raises(ProfileError, match="depends on the host's /etc/os-release"):
        load_profile("packages").placement("nova-compute")


def test_kolla_containers_and_runtime() -> None:
    kolla = load_profile("kolla")
    assert kolla.placement("nova-compute") == Placement(
        "nova-compute", "container", container="nova_compute", runtime="docker",
        wrapper="kolla-nova_compute-container.service")
    assert kolla.placement("libvirtd").container == "nova_libvirt"
    assert kolla.placement("rabbitmq", runtime="podman").runtime == "podman"
    assert kolla.placement("dbus") == Placement("dbus", "systemd", unit="dbus")


def test_openstack_ansible_places_control_plane_in_lxc() -> None:
    osa = load_profile("openstack-ansible")
    assert osa.placement("mariadb") == Placement("mariadb", "lxc", unit="mariadb",
                                                 container="galera_container")
    assert osa.placement("nova-compute") == Placement("nova-compute", "systemd",
                                                      unit="nova-compute")


def test_unlisted_service_is_a_unit_of_the_same_name() -> None:
    assert load_profile("kolla").placement("chronyd").unit == "chronyd"


# --- commands ----------------------------------------------------------------------------------


def wrapped(container: str, systemd: str, runtime: str) -> str:
    """A Kolla command: through the container's systemd unit where the host has it."""
    unit = f"kolla-{container}-container.service"
    return (f"if systemctl cat {unit} >/dev/null 2>&1; then {systemd} {unit}; "
            f"else {runtime} {container}; fi")


@pytest.mark.parametrize(("profile", "service", "action", "expected"), [
    ("devstack", "nova-compute", "stop", "systemctl stop devstack@n-cpu"),
    ("devstack", "cinder-volume", "status", "systemctl show -p ActiveState,SubState,MainPID,"
                                            "Result,NRestarts,ExecMainStatus devstack@c-vol"),
    ("devstack", "nova-compute", "kill",
     "systemctl kill --kill-who=main --signal=SIGKILL devstack@n-cpu"),
    ("kolla", "nova-compute", "stop", wrapped("nova_compute", "systemctl stop", "docker stop")),
    ("kolla", "libvirtd", "restart",
     wrapped("nova_libvirt", "systemctl restart", "docker restart")),
    ("kolla", "rabbitmq", "kill", "docker kill --signal SIGKILL rabbitmq"),
    ("kolla", "rabbitmq", "status",
     "docker container inspect --format 'container {{.Name}} {{.State.Status}} "
     "{{.State.Pid}} {{.State.ExitCode}} {{.RestartCount}}' rabbitmq 2>&1 || true"),
])
def test_commands(profile: str, service: str, action: str, expected: str) -> None:
    assert command(load_profile(profile).placement(service), action) == expected


def test_a_container_without_a_wrapping_unit_is_acted_on_by_its_runtime() -> None:
    placement = Placement("rabbitmq", "container", container="rabbitmq", runtime="podman")
    assert command(placement, "start") == "podman start rabbitmq"


def test_lxc_command_attaches_to_the_container() -> None:
    placement = load_profile("openstack-ansible").placement("rabbitmq")
    assert command(placement, "start", lxc_name="infra1_rabbit_mq_container-9c8d7e6f") == (
        "lxc-attach -n infra1_rabbit_mq_container-9c8d7e6f -- systemctl start rabbitmq-server")
    assert command(placement, "stop") == (
        "lxc-attach -n <rabbit_mq_container> -- systemctl stop rabbitmq-server")


def test_command_refuses_bad_action_and_signal() -> None:
    placement = load_profile("devstack").placement("nova-compute")
    with pytest.raises(HostError, match="unknown action 'melt'"):
        command(placement, "melt")
    with pytest.raises(HostError, match="signal"):
        command(placement, "kill", signal="KILL; reboot")


# --- recorded outputs --------------------------------------------------------------------------


def test_systemctl_show_status() -> None:
    unit = Placement("nova-compute", "systemd", unit="devstack@n-cpu")
    [running] = parse_statuses([unit], fixture("systemctl_show_active.txt"))
    assert (running.running, running.active, running.main_pid) == (True, "active", 48213)
    [failed] = parse_statuses([unit], fixture("systemctl_show_failed.txt"))
    assert (failed.running, failed.active) == (False, "failed")


def test_docker_inspect_reads_in_systemd_words() -> None:
    kolla = load_profile("kolla")
    placements = [kolla.placement(s) for s in ("nova-compute", "rabbitmq", "cinder-volume")]
    compute, rabbit, absent = parse_statuses(placements, fixture("docker_inspect.txt"))
    assert (compute.active, compute.sub, compute.main_pid) == ("active", "running", 20417)
    assert (rabbit.active, rabbit.sub, rabbit.result, rabbit.restarts) == (
        "failed", "exited", "signal", 2)
    assert (absent.active, absent.sub) == ("inactive", "absent")


def test_podman_inspect() -> None:
    kolla = load_profile("kolla")
    compute, mariadb = parse_statuses(
        [kolla.placement("nova-compute", runtime="podman"),
         kolla.placement("mariadb", runtime="podman")], fixture("podman_inspect.txt"))
    assert (compute.running, compute.main_pid) == (True, 20417)
    assert (mariadb.running, mariadb.sub, mariadb.exit_status) == (False, "exited", 137)


def test_a_container_ended_cleanly_is_inactive() -> None:
    placement = Placement("memcached", "container", container="memcached", runtime="docker")
    [status] = parse_statuses([placement], "container /memcached exited 0 143 0\n")
    assert (status.active, status.result) == ("inactive", "success")


def test_a_runtime_answer_that_is_not_a_container_line_is_an_error() -> None:
    placement = Placement("rabbitmq", "container", container="rabbitmq", runtime="docker")
    with pytest.raises(HostError, match="docker: Cannot connect to the Docker daemon"):
        parse_statuses([placement], "Cannot connect to the Docker daemon at unix:///x\n")


def test_lxc_ls_fancy() -> None:
    containers = parse_lxc_ls(fixture("lxc_ls_fancy.txt"))
    assert len(containers) == 6
    galera = containers[0]
    assert galera.name == "infra1_galera_container-3ea2f8c1"
    assert galera.state == "RUNNING"
    assert galera.ipv4 == ("10.0.3.84", "172.29.238.201")
    assert containers[4].ipv4 == ()
    assert find_lxc_container(containers, "galera_container") == galera.name
    assert find_lxc_container(containers, "rabbit_mq_container") == (
        "infra1_rabbit_mq_container-9c8d7e6f")
    with pytest.raises(HostError, match="no container"):
        find_lxc_container(containers, "cinder_api_container")


def test_lxc_ls_without_header() -> None:
    with pytest.raises(HostError, match="header"):
        parse_lxc_ls("infra1_galera_container-3ea2f8c1 RUNNING\n")


def test_os_release_quoting() -> None:
    release = os_release("rocky")
    assert release["ID"] == "rocky"
    assert release["ID_LIKE"] == "rhel centos fedora"
    assert release["PRETTY_NAME"] == "Rocky Linux 9.3 (Blue Onyx)"


# --- user profiles -----------------------------------------------------------------------------


def test_profile_from_an_inventory_directory(tmp_path: Path) -> None:
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "mine.yaml").write_text(
        "name: mine\nruntime: podman\nservices:\n  nova-compute: {container: compute}\n")
    inventory = inventory_with(tmp_path, "profile: {name: mine, dirs: [profiles]}\n")
    placement = Target(inventory.host("c1"), FakeConnection({}), inventory, []).placement(
        "nova-compute")
    assert placement == Placement("nova-compute", "container", container="compute",
                                  runtime="podman")


def test_user_profile_shadows_a_builtin(tmp_path: Path) -> None:
    (tmp_path / "devstack.yaml").write_text(
        "name: devstack\nservices:\n  nova-compute: n-cpu-custom\n")
    assert load_profile("devstack", [tmp_path]).placement("nova-compute").unit == "n-cpu-custom"


@pytest.mark.parametrize(("text", "message"), [
    ("name: other\n", "differs from the file name"),
    ("name: bad\nservices:\n  nova-compute: {container: x, unit: y}\n", "services.nova-compute"),
    ("name: bad\nservices: [\n", "invalid YAML"),
])
def test_bad_profile_files(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "bad.yaml").write_text(text)
    with pytest.raises(ProfileError, match=message) as info:
        load_profile("bad", [tmp_path])
    assert "\n" not in str(info.value)


def test_profile_from_an_entry_point(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from importlib import metadata

    import stackdrill.inventory.profiles as profiles

    path = tmp_path / "vendor.yaml"
    path.write_text("name: vendor\nservices:\n  nova-compute: vendor-nova-compute\n")
    entry = metadata.EntryPoint(name="vendor", value="os.path:curdir",
                                group=profiles.ENTRY_POINT_GROUP)
    monkeypatch.setattr(metadata.EntryPoint, "load", lambda self: str(path))
    monkeypatch.setattr(profiles, "_entry_points", lambda: {"vendor": entry})
    assert load_profile("vendor").placement("nova-compute").unit == "vendor-nova-compute"
    assert "vendor" in available_profiles()


def test_inventory_refuses_an_unknown_profile(tmp_path: Path) -> None:
    with pytest.raises(InventoryError, match=r"profile: unknown profile 'devstak' \(known: "):
        inventory_with(tmp_path, "profile: devstak\n")
    with pytest.raises(InventoryError, match=r"profile\.name: profile packages: no variant 'suse'"):
        inventory_with(tmp_path, "profile: {name: packages, variant: suse}\n")


# --- wired into targets ------------------------------------------------------------------------


class FakeConnection:
    """Answers commands from a table; records what ran."""

    def __init__(self, answers: dict[str, str]) -> None:
        self.answers = answers
        self.ran: list[str] = []

    def run(self, command: str, *, timeout: float | None = None) -> CommandResult:
        self.ran.append(command)
        for prefix, output in self.answers.items():
            if command.startswith(prefix):
                return CommandResult("c1", command, 0, output, "", 0.0, 0.0)
        return CommandResult("c1", command, 1, "", "not found", 0.0, 0.0)


def inventory_with(base: Path, extra: str, services: str = "") -> Inventory:
    text = textwrap.dedent("""\
        hosts:
          c1: {address: 192.0.2.11, roles: [compute]}
        """) + extra + services
    import yaml

    return parse_inventory(yaml.safe_load(text), base / "inventory.yaml")


def target_for(tmp_path: Path, extra: str, answers: dict[str, str],
               services: str = "") -> tuple[Target, FakeConnection]:
    inventory = inventory_with(tmp_path, extra, services)
    connection = FakeConnection(answers)
    return Target(inventory.host("c1"), connection, inventory, []), connection  # type: ignore[arg-type]


def test_without_a_declared_profile_units_are_service_names(tmp_path: Path) -> None:
    target, connection = target_for(tmp_path, "", {})
    assert target.unit("nova-compute") == "nova-compute"
    assert target.unit("rabbitmq") == "rabbitmq"
    assert connection.ran == []


def test_explicit_services_win_over_the_profile(tmp_path: Path) -> None:
    target, _ = target_for(tmp_path, "profile: devstack\n", {},
                           "services:\n  nova-compute: {unit: my-nova}\n")
    assert target.unit("nova-compute") == "my-nova"
    assert target.unit("cinder-volume") == "devstack@c-vol"


def test_packages_profile_reads_os_release_once(tmp_path: Path) -> None:
    target, connection = target_for(tmp_path, "profile: packages\n",
                                     {"cat /etc/os-release": fixture("os-release-rocky")})
    assert target.unit("nova-compute") == "openstack-nova-compute"
    assert target.unit("cinder-volume") == "openstack-cinder-volume"
    assert connection.ran == ["cat /etc/os-release"]


def test_pinned_variant_needs_no_host(tmp_path: Path) -> None:
    inventory = inventory_with(tmp_path, "profile: {name: packages, variant: redhat}\n")
    target = dry_run_target(inventory, "c1")
    assert target.unit("nova-compute") == "openstack-nova-compute"


def test_dry_run_of_packages_profile_says_it_needs_the_host(tmp_path: Path) -> None:
    target = dry_run_target(inventory_with(tmp_path, "profile: packages\n"), "c1")
    with pytest.raises(HostError, match="a dry run does not contact hosts"):
        target.unit("nova-compute")


def test_kolla_service_is_not_a_unit(tmp_path: Path) -> None:
    target, _ = target_for(tmp_path, "profile: kolla\n", {})
    with pytest.raises(HostError, match="runs as docker container nova_compute, not a systemd"):
        target.unit("nova-compute")


def test_kolla_state_and_actions_through_the_runtime(tmp_path: Path) -> None:
    answers: dict[str, Any] = {"podman container inspect": fixture("podman_inspect.txt"),
                               "if systemctl cat kolla-mariadb-container.service": ""}
    target, connection = target_for(tmp_path, "profile: {name: kolla, runtime: podman}\n",
                                     answers)
    assert target.service("nova-compute").is_running()
    assert target.service("mariadb").status().sub == "exited"
    target.service("mariadb").stop(timeout=5)
    assert wrapped("mariadb", "systemctl stop", "podman stop") in connection.ran


def test_a_service_that_stays_down_fails_the_action(tmp_path: Path) -> None:
    answers = {"docker container inspect": fixture("docker_inspect.txt"), "if systemctl": ""}
    target, connection = target_for(tmp_path, "profile: kolla\n", answers)
    with pytest.raises(HostError, match="rabbitmq running on c1"):
        target.service("rabbitmq").start(timeout=0.3)
    assert connection.ran[0] == wrapped("rabbitmq", "systemctl start", "docker start")
    assert connection.ran[-1] == "docker logs --tail 20 rabbitmq"


def test_openstack_ansible_finds_the_container_then_attaches(tmp_path: Path) -> None:
    answers = {"lxc-ls --fancy": fixture("lxc_ls_fancy.txt"),
               "lxc-attach -n infra1_galera_container-3ea2f8c1 -- systemctl show":
                   fixture("systemctl_show_active.txt")}
    target, connection = target_for(tmp_path, "profile: openstack-ansible\n", answers)
    state = target.service("mariadb").status()
    assert (state.running, state.main_pid) == (True, 48213)
    assert target.service("rabbitmq").command("stop") == (
        "lxc-attach -n infra1_rabbit_mq_container-9c8d7e6f -- systemctl stop rabbitmq-server")
    assert connection.ran == [
        "lxc-ls --fancy",
        "lxc-attach -n infra1_galera_container-3ea2f8c1 -- systemctl show -p "
        "ActiveState,SubState,MainPID,Result,NRestarts,ExecMainStatus mariadb",
    ]


def test_missing_lxc_container_is_one_line(tmp_path: Path) -> None:
    target, _ = target_for(tmp_path, "profile: openstack-ansible\n",
                           {"lxc-ls --fancy": fixture("lxc_ls_fancy.txt")})
    with pytest.raises(HostError, match="c1: cinder-api: LXC container group "
                                        "cinder_api_container: no container on this host"):
        target.service("cinder-api").command("stop")
