"""The lab's monitoring as rendered: its rules (each critical, each with a short ``for``), what
Prometheus scrapes on each topology, which host runs what, the admin credentials in a 0600
file, the inventory's ``alerts`` key, and the units each host starts."""

from __future__ import annotations

import stat
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import yaml

from stackdrill.lab.cloud import monitoring, swift
from stackdrill.lab.cloud.secrets import NAMES, LabSecrets
from stackdrill.lab.topology import HA, SINGLE, LabPaths

ALERTS = {"NovaComputeDown", "RabbitMQNodeDown", "MariaDBDown", "GaleraNotPrimary",
          "SwiftDiskUnmounted"}
ALL_SECRETS = LabSecrets({name: "x" for name in NAMES})


def test_every_rule_is_critical_with_a_short_for() -> None:
    [group] = yaml.safe_load(monitoring.rules_yaml())["groups"]
    assert {rule["alert"] for rule in group["rules"]} == ALERTS
    assert all(rule["labels"] == {"severity": "critical"} and rule["for"] == "10s"
               for rule in group["rules"])


def targets(topology: Any) -> dict[str, list[str]]:
    config = yaml.safe_load(monitoring.prometheus_yaml(topology))
    assert config["global"]["scrape_interval"] == config["global"]["evaluation_interval"] == "5s"
    return {job["job_name"]: [f"{c['labels']['host']}={t}" for c in job["static_configs"]
                              for t in c["targets"]] for job in config["scrape_configs"]}


def test_prometheus_scrapes_the_controllers_and_the_storage_hosts() -> None:
    assert targets(SINGLE) == {
        "prometheus": ["controller=172.31.77.10:9090"],
        "node": ["controller=172.31.77.10:9100", "storage1=172.31.77.21:9100",
                 "storage2=172.31.77.22:9100"],
        "mysqld": ["controller=172.31.77.10:9104"],
        "rabbitmq": ["controller=172.31.77.10:15692"]}
    ha = targets(HA)
    assert ha["rabbitmq"] == ["controller1=172.31.77.31:15692", "controller2=172.31.77.32:15692",
                              "controller3=172.31.77.33:15692"]
    assert ha["prometheus"] == ["controller1=172.31.77.31:9090"]


def test_prometheus_runs_on_the_first_controller_only() -> None:
    files = {host.name: monitoring.monitoring_files(host, HA) for host in HA.hosts}
    assert "/etc/prometheus/prometheus.yml" in files["controller1"]
    assert "/etc/prometheus/prometheus.yml" not in files["controller2"]
    assert "/etc/default/prometheus-mysqld-exporter" in files["controller2"]
    assert monitoring.SWIFT_COLLECTOR in files["storage1"]
    assert files["compute1"] == {}


def test_the_admin_credentials_are_written_0600(tmp_path: Path) -> None:
    paths = LabPaths(tmp_path)
    secrets = LabSecrets({"admin": "s3cret"})
    monitoring.MonitoringBootstrap(lambda *a, **k: None, paths, secrets).configure()
    credentials = paths.merged("controller") / monitoring.CREDENTIALS.lstrip("/")
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
    assert '"password": "s3cret"' in credentials.read_text()


def test_the_inventory_names_the_first_controllers_alertmanager(tmp_path: Path) -> None:
    assert monitoring.alerts_key(HA, tmp_path / "r.yml") == {
        "alertmanager": "http://172.31.77.31:9093", "prometheus": "http://172.31.77.31:9090",
        "rule_files": [str(tmp_path / "r.yml")]}


def test_each_host_starts_its_monitoring_units(tmp_path: Path) -> None:
    commands: list[tuple[str, str]] = []

    def in_host(host: str, command: str, **_: Any) -> Any:
        commands.append((host, command))
        return SimpleNamespace(returncode=0, stdout="", stderr="")

    monitoring.MonitoringBootstrap(in_host, LabPaths(tmp_path), LabSecrets({}),
                                   topology=SINGLE).services()
    started = {host: command.rsplit("systemctl restart ", 1)[1].split()
               for host, command in commands}
    assert started == {
        "controller": ["prometheus-node-exporter", "prometheus-mysqld-exporter", "prometheus",
                       "prometheus-alertmanager", "stackdrill-openstack-services"],
        "storage1": ["prometheus-node-exporter", "stackdrill-swift-disk-metrics"],
        "storage2": ["prometheus-node-exporter", "stackdrill-swift-disk-metrics"]}
    assert all(command.startswith("systemctl unmask -q ") for _, command in commands)


def test_no_monitoring_file_replaces_one_of_swifts() -> None:
    """A storage host's monitoring writes no file Swift's set-up writes: the disk metrics'
    collector once took the name of the unit that mounts the disks at boot, and a rebooted
    storage host came back with its disks unmounted."""
    for host in (*SINGLE.with_role("storage"), *HA.with_role("storage")):
        node = swift.StorageNode(host.name, host.address, zone=1)
        swift_files = swift.storage_files(node, ALL_SECRETS, [("d1", "/dev/loop1")])
        assert not set(monitoring.monitoring_files(host)) & set(swift_files)
    assert swift.MOUNT_UNIT not in monitoring.STORAGE_UNITS
