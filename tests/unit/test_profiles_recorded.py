"""The deployment profiles against what real deployments run, where the lab cannot run them:
`systemctl` on a DevStack node and `docker ps` on a kolla-ansible controller, both recorded from
published output (tests/fixtures/profiles/), and the names each deployment tool's current
sources give its services."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from stackdrill.inventory.profiles import Placement, load_profile, parse_os_release

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "profiles"


def recorded(name: str) -> list[str]:
    return [line.strip() for line in (FIXTURES / name).read_text().splitlines()
            if line.strip() and not line.startswith("#")]


def devstack_units() -> set[str]:
    units = set()
    for line in recorded("devstack_list_units.txt"):
        match = re.match(r"(devstack@[\w.-]+)\.service\s+loaded\s+active\s+running", line)
        if match:
            units.add(match.group(1))
    return units


def test_every_openstack_unit_devstack_ran_is_mapped_by_the_devstack_profile() -> None:
    mapped = set(load_profile("devstack").services_of(None).values())
    ran = devstack_units() - {"devstack@dstat"}  # dstat records performance; nothing to drill
    assert len(ran) == 19
    assert ran - mapped == set()


@pytest.mark.parametrize(("service", "unit"), [
    ("neutron-api", "devstack@neutron-api"),
    ("neutron-server", "devstack@neutron-api"),
    ("neutron-rpc-server", "devstack@neutron-rpc-server"),
    ("neutron-periodic-workers", "devstack@neutron-periodic-workers"),
    ("neutron-ovn-maintenance-worker", "devstack@neutron-ovn-maintenance-worker"),
    ("neutron-ovn-agent", "devstack@q-ovn-agent"),
    ("nova-api-metadata", "devstack@n-api-meta"),
    ("nova-conductor", "devstack@n-super-cond"),
    ("nova-conductor-cell1", "devstack@n-cond-cell1"),
])
def test_devstack_units_are_those_the_node_ran(service: str, unit: str) -> None:
    assert load_profile("devstack").placement(service).unit == unit
    assert unit in devstack_units()


@pytest.mark.parametrize(("service", "unit"), [
    ("cinder-backup", "devstack@c-bak"),
    ("neutron-ovn-metadata-agent", "devstack@q-ovn-metadata-agent"),
    ("ovn-controller", "ovn-controller"),
    ("ovn-northd", "ovn-northd"),
    ("openvswitch", "ovs-vswitchd"),
    ("ovsdb-server", "ovsdb-server"),
])
def test_devstack_units_of_services_that_node_did_not_run(service: str, unit: str) -> None:
    """c-bak and q-ovn-metadata-agent are devstack@ units as lib/cinder and lib/neutron start
    them; OVN and Open vSwitch from the distribution's packages keep their own units."""
    assert load_profile("devstack").placement(service) == Placement(service, "systemd", unit=unit)


# containers the recorded controller ran that stackdrill's drills do not name
KOLLA_UNDRILLED = {"horizon", "heat_engine", "heat_api_cfn", "heat_api", "neutron_metadata_agent",
                   "neutron_l3_agent", "neutron_dhcp_agent", "keystone_fernet", "keystone_ssh",
                   "keepalived", "proxysql", "haproxy", "fluentd", "cron", "kolla_toolbox"}


def test_every_drilled_container_the_kolla_controller_ran_is_mapped() -> None:
    kolla = load_profile("kolla")
    containers = {kolla.placement(service).container for service in kolla.services_of(None)}
    ran = set(recorded("kolla_docker_ps_names.txt"))
    assert ran - KOLLA_UNDRILLED - containers == set()


@pytest.mark.parametrize(("service", "container"), [
    ("neutron-rpc-server", "neutron_rpc_server"),
    ("neutron-periodic-workers", "neutron_periodic_worker"),
    ("nova-api-metadata", "nova_metadata"),
    ("ovsdb-server", "openvswitch_db"),
    ("openvswitch", "openvswitch_vswitchd"),
])
def test_kolla_containers_are_those_the_controller_ran(service: str, container: str) -> None:
    placement = load_profile("kolla").placement(service)
    assert placement.container == container
    assert placement.wrapper == f"kolla-{container}-container.service"
    assert container in recorded("kolla_docker_ps_names.txt")


@pytest.mark.parametrize(("service", "container"), [
    ("nova-super-conductor", "nova_super_conductor"),
    ("ovn-controller", "ovn_controller"),
    ("ovn-northd", "ovn_northd"),
    ("ovn-nb-db", "ovn_nb_db"),
    ("ovn-sb-db", "ovn_sb_db"),
    ("neutron-ovn-metadata-agent", "neutron_ovn_metadata_agent"),
])
def test_kolla_containers_of_multi_cell_and_ovn_deployments(service: str, container: str) -> None:
    """kolla-ansible's ovn-db role names ovn_northd, ovn_nb_db and ovn_sb_db; the super
    conductor runs only with more than one cell."""
    assert load_profile("kolla").placement(service).container == container


@pytest.mark.parametrize(("service", "placement"), [
    ("ovn-controller", Placement("ovn-controller", "systemd", unit="ovn-controller")),
    ("neutron-ovn-metadata-agent", Placement("neutron-ovn-metadata-agent", "systemd",
                                             unit="neutron-ovn-metadata-agent")),
    ("ovn-northd", Placement("ovn-northd", "lxc", unit="ovn-northd",
                             container="neutron_ovn_northd_container")),
])
def test_openstack_ansible_runs_ovn_on_metal_computes_and_northd_in_a_container(
        service: str, placement: Placement) -> None:
    assert load_profile("openstack-ansible").placement(service) == placement


OS_RELEASE = {
    "debian": 'ID=debian\nVERSION_ID="12"\n',
    "ubuntu": 'ID=ubuntu\nID_LIKE=debian\nVERSION_ID="24.04"\n',
    "rocky": 'ID="rocky"\nID_LIKE="rhel centos fedora"\nVERSION_ID="9.5"\n',
}


@pytest.mark.parametrize(("release", "service", "unit"), [
    ("debian", "keystone", "keystone"),
    ("debian", "placement-api", "placement-api"),
    ("debian", "cinder-api", "cinder-api"),
    ("ubuntu", "keystone", "apache2"),
    ("ubuntu", "placement-api", "apache2"),
    ("ubuntu", "cinder-api", "apache2"),
    ("rocky", "libvirtd", "virtqemud"),
    ("rocky", "virtlogd", "virtlogd"),
    ("debian", "libvirtd", "libvirtd"),
])
def test_packages_units_of_each_distribution(release: str, service: str, unit: str) -> None:
    os_release = parse_os_release(OS_RELEASE[release])
    assert load_profile("packages").placement(service, os_release=os_release).unit == unit
