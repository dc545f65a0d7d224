"""The lab cloud's monitoring, as an operator's would be, from Debian's packages: Prometheus and
Alertmanager on the first controller, node exporter on the controllers and the storage hosts,
mysqld exporter on each controller (a monitoring account with no right to read a table), and
RabbitMQ's own ``rabbitmq_prometheus`` plugin (port 15692) on each. Two textfile collectors
feed node exporter: the OpenStack services' states on the first controller
(``openstack_nova_agent_state``, as openstack-exporter names it, from the compute API's
os-services with the lab's admin account, kept in a 0600 file) and each storage host's Swift
disks (``swift_disk_mounted``, ``mountpoint -q`` of each ``/srv/node/<disk>``, what
swift-recon's unmounted check reports). The rules: :data:`RULES`.

Every interval is short, for drills: scrape and evaluation every 5 s, the collectors every 5 s,
``for: 10s`` on each rule, alerts resent every 10 s; 6 hours of retention."""

from __future__ import annotations

import json
import shlex
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import yaml

from stackdrill.core.waiting import poll
from stackdrill.lab.cloud.layout import KEYSTONE_URL
from stackdrill.lab.cloud.secrets import LabSecrets
from stackdrill.lab.system import LabError, in_host_output
from stackdrill.lab.topology import SINGLE, LabHost, LabPaths, Topology

__all__ = ["CONTROLLER_UNITS", "RULES", "STORAGE_UNITS", "MonitoringBootstrap", "alerts_key",
           "monitoring_files", "rules_yaml"]

PROMETHEUS_PORT = 9090
ALERTMANAGER_PORT = 9093
NODE_PORT = 9100
MYSQLD_PORT = 9104
RABBITMQ_PORT = 15692
INTERVAL = "5s"
RETENTION = "6h"
TEXTFILE_DIR = "/var/lib/prometheus/node-exporter"
RULES_FILE = "/etc/prometheus/stackdrill-lab.rules.yml"
CREDENTIALS = "/etc/stackdrill-lab/monitoring/openstack.json"
EXPORTER = "/etc/stackdrill-lab/monitoring/openstack-services.py"
SWIFT_COLLECTOR = "/etc/stackdrill-lab/monitoring/swift-disks.sh"
MONITORING_USER = "prometheus"
"""MariaDB's account for mysqld exporter: ``unix_socket``, the exporter's own system user."""

PROMETHEUS_UNITS = ("prometheus", "prometheus-alertmanager")
CONTROLLER_UNITS = ("prometheus-node-exporter", "prometheus-mysqld-exporter")
# the textfile collector of each storage host (not swift.MOUNT_UNIT, which mounts the disks)
SWIFT_METRICS_UNIT = "stackdrill-swift-disk-metrics"
STORAGE_UNITS = ("prometheus-node-exporter", SWIFT_METRICS_UNIT)
OPENSTACK_UNIT = "stackdrill-openstack-services"

Log = Callable[[str], None]


def _rule(name: str, expr: str, summary: str) -> dict[str, Any]:
    return {"alert": name, "expr": expr, "for": "10s", "labels": {"severity": "critical"},
            "annotations": {"summary": summary}}


RULES: tuple[dict[str, Any], ...] = (
    _rule("NovaComputeDown",
          'openstack_nova_agent_state{service="nova-compute",adminState="enabled"} == 0',
          "nova-compute on {{ $labels.hostname }} is down (Nova's service state)"),
    _rule("RabbitMQNodeDown", 'up{job="rabbitmq"} == 0',
          "RabbitMQ on {{ $labels.host }} does not answer"),
    _rule("MariaDBDown", 'mysql_up == 0 or up{job="mysqld"} == 0',
          "MariaDB on {{ $labels.host }} does not answer"),
    _rule("GaleraNotPrimary",
          "mysql_global_status_wsrep_ready == 0 "
          "and on(instance) mysql_global_variables_wsrep_on == 1",
          "Galera on {{ $labels.host }} is not in the Primary component (wsrep_ready OFF)"),
    _rule("SwiftDiskUnmounted", "swift_disk_mounted == 0",
          "Swift disk {{ $labels.device }} on {{ $labels.host }} is not mounted"),
)
"""The alerting rules, each ``severity: critical``. ``GaleraNotPrimary`` looks only where
MariaDB runs Galera (``wsrep_on``: the HA topology; the single controller's MariaDB has the
provider installed, off, and ``wsrep_ready`` OFF); ``MariaDBDown`` covers the single
controller."""


def rules_yaml() -> str:
    return yaml.safe_dump({"groups": [{"name": "stackdrill-lab", "rules": list(RULES)}]},
                          sort_keys=False, width=1000)


def _targets(job: str, hosts: tuple[LabHost, ...], port: int) -> dict[str, Any]:
    return {"job_name": job, "static_configs": [
        {"targets": [f"{host.address}:{port}"], "labels": {"host": host.name}}
        for host in hosts]}


def prometheus_yaml(topology: Topology) -> str:
    controllers = topology.controllers
    node_hosts = (*controllers, *topology.with_role("storage"))
    return yaml.safe_dump({
        "global": {"scrape_interval": INTERVAL, "scrape_timeout": "4s",
                   "evaluation_interval": INTERVAL},
        "alerting": {"alertmanagers": [
            {"static_configs": [{"targets": [f"127.0.0.1:{ALERTMANAGER_PORT}"]}]}]},
        "rule_files": [RULES_FILE],
        "scrape_configs": [
            _targets("prometheus", (topology.first_controller,), PROMETHEUS_PORT),
            _targets("node", node_hosts, NODE_PORT),
            _targets("mysqld", controllers, MYSQLD_PORT),
            _targets("rabbitmq", controllers, RABBITMQ_PORT),
        ],
    }, sort_keys=False)


ALERTMANAGER_YAML = """\
# Alerts are kept and listed (GET /api/v2/alerts); nobody is notified.
route:
  receiver: lab
  group_wait: 1s
  group_interval: 5s
  repeat_interval: 1h
receivers:
  - name: lab
"""

PROMETHEUS_ARGS = (f'ARGS="--storage.tsdb.retention.time={RETENTION} '
                   f'--rules.alert.resend-delay=10s"\n')
ALERTMANAGER_ARGS = 'ARGS="--cluster.listen-address= --data.retention=6h"\n'
NODE_ARGS = ('ARGS="--collector.disable-defaults --collector.textfile --collector.cpu '
             '--collector.meminfo --collector.loadavg --collector.filesystem '
             '--collector.netdev --collector.time"\n')
MYSQLD_ARGS = ('ARGS="--no-collect.info_schema.tables"\n'
               f'DATA_SOURCE_NAME="{MONITORING_USER}@unix(/run/mysqld/mysqld.sock)/"\n')
# in a lab host (a container), no user namespace of the unit's own
SANDBOX_DROPIN = "[Service]\nPrivateUsers=false\n"

OPENSTACK_EXPORTER = r'''"""Nova's service states as openstack-exporter names them, for node
exporter's textfile collector: openstack_nova_agent_state{id,hostname,service,adminState,zone,
disabledReason} 1 when the service is up, 0 when down; openstack_nova_up 0 when the compute API
does not answer. Every 5 s; the credentials' file is never printed."""
import json, os, sys, time, urllib.error, urllib.request

CREDENTIALS, OUT, INTERVAL = sys.argv[1], sys.argv[2], 5.0


def call(url, body=None, token=None):
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if token:
        headers["X-Auth-Token"] = token
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers=headers)
    with urllib.request.urlopen(request, timeout=4) as answer:
        return answer.headers.get("X-Subject-Token"), json.load(answer)


def login(creds):
    auth = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": creds["username"], "password": creds["password"],
        "domain": {"name": "Default"}}}},
        "scope": {"project": {"name": "admin", "domain": {"name": "Default"}}}}}
    token, body = call(creds["auth_url"] + "/auth/tokens", auth)
    compute = [e["url"] for s in body["token"]["catalog"] if s["type"] == "compute"
               for e in s["endpoints"] if e["interface"] == "public"]
    return token, compute[0]


def label(value):
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")


def lines(services):
    out = ["# HELP openstack_nova_up Whether the compute API answered",
           "# TYPE openstack_nova_up gauge", "openstack_nova_up 1",
           "# HELP openstack_nova_agent_state Whether the Nova service is up (1) or down (0)",
           "# TYPE openstack_nova_agent_state gauge"]
    for s in services:
        labels = {"id": s.get("id", ""), "hostname": s.get("host", ""),
                  "service": s.get("binary", ""), "adminState": s.get("status", ""),
                  "zone": s.get("zone", ""), "disabledReason": s.get("disabled_reason") or ""}
        text = ",".join(f'{k}="{label(v)}"' for k, v in labels.items())
        out.append(f"openstack_nova_agent_state{{{text}}} {1 if s.get('state') == 'up' else 0}")
    return out


def write(text):
    with open(OUT + ".tmp", "w") as handle:
        handle.write(text + "\n")
    os.replace(OUT + ".tmp", OUT)


def main():
    with open(CREDENTIALS) as handle:
        creds = json.load(handle)
    token = compute = None
    while True:
        try:
            if token is None:
                token, compute = login(creds)
            _, body = call(compute + "/os-services", token=token)
            write("\n".join(lines(body["services"])))
        except (urllib.error.URLError, OSError, ValueError, KeyError, IndexError) as exc:
            if isinstance(exc, urllib.error.HTTPError) and exc.code == 401:
                token = None
            print(f"compute API: {type(exc).__name__}", file=sys.stderr, flush=True)
            write("# HELP openstack_nova_up Whether the compute API answered\n"
                  "# TYPE openstack_nova_up gauge\nopenstack_nova_up 0")
        time.sleep(INTERVAL)


main()
'''

SWIFT_DISKS = f"""#!/bin/sh
# Each Swift disk mounted (1) or not (0), as swift-recon's unmounted check sees it, for node
# exporter's textfile collector, every 5 s.
out={TEXTFILE_DIR}/swift-disks.prom
while :; do
  {{
    echo "# HELP swift_disk_mounted Whether the Swift disk is mounted (1) or not (0)"
    echo "# TYPE swift_disk_mounted gauge"
    for disk in /srv/node/*; do
      [ -d "$disk" ] || continue
      if mountpoint -q "$disk"; then up=1; else up=0; fi
      echo "swift_disk_mounted{{device=\\"${{disk##*/}}\\"}} $up"
    done
  }} >"$out.tmp" && mv "$out.tmp" "$out"
  sleep 5
done
"""


def _collector_unit(description: str, exec_start: str) -> str:
    return f"""[Unit]
Description={description}
After=network-online.target

[Service]
ExecStart={exec_start}
Restart=always
RestartSec=5

[Install]
WantedBy=multi-user.target
"""


def _exporters(storage: bool) -> dict[str, str]:
    files = {"/etc/default/prometheus-node-exporter": NODE_ARGS}
    if storage:
        files[SWIFT_COLLECTOR] = SWIFT_DISKS
        files[f"/etc/systemd/system/{SWIFT_METRICS_UNIT}.service"] = _collector_unit(
            "Swift disks mounted, for node exporter", f"/bin/sh {SWIFT_COLLECTOR}")
    else:
        files["/etc/default/prometheus-mysqld-exporter"] = MYSQLD_ARGS
    return files


def monitoring_files(host: LabHost, topology: Topology = SINGLE) -> dict[str, str]:
    """The monitoring files of ``host`` (none on a compute); the admin credentials apart."""
    if "storage" in host.roles:
        return _exporters(storage=True)
    if "controller" not in host.roles:
        return {}
    files = _exporters(storage=False)
    if host == topology.first_controller:
        files.update({
            "/etc/prometheus/prometheus.yml": prometheus_yaml(topology),
            RULES_FILE: rules_yaml(),
            "/etc/prometheus/alertmanager.yml": ALERTMANAGER_YAML,
            "/etc/default/prometheus": PROMETHEUS_ARGS,
            "/etc/default/prometheus-alertmanager": ALERTMANAGER_ARGS,
            "/etc/systemd/system/prometheus.service.d/lab.conf": SANDBOX_DROPIN,
            EXPORTER: OPENSTACK_EXPORTER,
            f"/etc/systemd/system/{OPENSTACK_UNIT}.service": _collector_unit(
                "Nova's service states, for node exporter",
                f"/usr/bin/python3 {EXPORTER} {CREDENTIALS} {TEXTFILE_DIR}/openstack.prom"),
        })
    return files


def alerts_key(topology: Topology, rules: Path) -> dict[str, object]:
    """The inventory's ``alerts``: the first controller's Alertmanager and Prometheus, and the
    rules as the lab wrote them beside its inventory."""
    address = topology.first_controller.address
    return {"alertmanager": f"http://{address}:{ALERTMANAGER_PORT}",
            "prometheus": f"http://{address}:{PROMETHEUS_PORT}", "rule_files": [str(rules)]}


class MonitoringBootstrap:
    """The last stage of the lab cloud's bootstrap: the files, MariaDB's monitoring account,
    RabbitMQ's plugin, the services, and a wait for every scrape target to answer."""

    def __init__(self, in_host: Callable[..., Any], paths: LabPaths, secrets: LabSecrets,
                 log: Log = print, topology: Topology = SINGLE) -> None:
        self.in_host = in_host
        self.paths = paths
        self.secrets = secrets
        self.log = log
        self.topology = topology
        self.first = topology.first_controller

    def sh(self, host: str, command: str, timeout: float = 120.0) -> str:
        return in_host_output(self.in_host, host, command, timeout)

    def run(self) -> None:
        started = time.monotonic()
        for stage in (self.configure, self.database, self.rabbitmq, self.services,
                      self.wait_targets):
            stage()
        self.log(f"lab monitoring: up in {time.monotonic() - started:.1f}s")

    def configure(self) -> None:
        from stackdrill.lab.cloud.bootstrap import write_files

        for host in self.topology.hosts:
            write_files(self.paths.merged(host.name), monitoring_files(host, self.topology))
        credentials = self.paths.merged(self.first.name) / CREDENTIALS.lstrip("/")
        credentials.parent.mkdir(parents=True, exist_ok=True)
        credentials.touch(mode=0o600)
        credentials.chmod(0o600)
        credentials.write_text(json.dumps({"auth_url": KEYSTONE_URL, "username": "admin",
                                           "password": self.secrets["admin"]}))

    def database(self) -> None:
        sql = (f"CREATE USER IF NOT EXISTS '{MONITORING_USER}'@'localhost' "
               f"IDENTIFIED VIA unix_socket; GRANT PROCESS, REPLICATION CLIENT ON *.* TO "
               f"'{MONITORING_USER}'@'localhost';")
        self.sh(self.first.name, f"mysql -u root -e {shlex.quote(sql)}")

    def rabbitmq(self) -> None:
        for host in self.topology.controllers:
            self.sh(host.name, "rabbitmq-plugins -q enable rabbitmq_prometheus >/dev/null")

    def services(self) -> None:
        for host in self.topology.hosts:
            units = self._units(host)
            if units:  # masked where the machine enables them and the host's role does not
                names = " ".join(units)
                self.sh(host.name, f"systemctl unmask -q {names} && systemctl daemon-reload && "
                                   f"systemctl enable -q {names} && systemctl restart {names}")

    def _units(self, host: LabHost) -> tuple[str, ...]:
        if "storage" in host.roles:
            return STORAGE_UNITS
        if "controller" not in host.roles:
            return ()
        if host == self.first:
            return (*CONTROLLER_UNITS, *PROMETHEUS_UNITS, OPENSTACK_UNIT)
        return CONTROLLER_UNITS

    def wait_targets(self, timeout: float = 120.0) -> None:
        """Every scrape target up, and a sample of every OpenStack service state in."""
        url = f"http://127.0.0.1:{PROMETHEUS_PORT}/api/v1/query?query="
        checks = {"targets": "count(up == 0) or vector(0)",
                  "states": "count(openstack_nova_agent_state) or vector(0)"}

        def ready() -> bool:
            values = {}
            for name, query in checks.items():
                out = self.in_host(self.first.name,
                                   f"curl -fsS {shlex.quote(url + quote(query))}", check=False)
                try:
                    values[name] = float(json.loads(out.stdout)["data"]["result"][0]["value"][1])
                except (ValueError, KeyError, IndexError, TypeError):
                    return False
            return values["targets"] == 0 and values["states"] > 0

        poll(ready, timeout=timeout, interval=2.0, max_interval=5.0,
             description="every scrape target of the lab's Prometheus up", ignore=(LabError,))
