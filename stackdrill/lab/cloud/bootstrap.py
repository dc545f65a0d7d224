"""Bring the lab cloud up on freshly booted lab hosts: databases, message queue, identity,
catalog, schema, then every service, then the computes; and write clouds.yaml.

In the HA topology the database and the message queue are clusters formed first
(:mod:`stackdrill.lab.cloud.clusters`); what runs once (schema syncs, Keystone's key setup and
bootstrap) runs on the first controller, and every controller runs every service."""

from __future__ import annotations

import shlex
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from stackdrill.core.waiting import poll
from stackdrill.lab.cloud import clusters, configs
from stackdrill.lab.cloud.ha_configs import HAPROXY_CHECK_USER, PEER_CHECK
from stackdrill.lab.cloud.layout import (
    APIS,
    BLOCK_STORAGE_HOST,
    BLOCK_STORAGE_UNITS,
    CATALOG,
    CLOUD_NAME,
    COMPUTE_UNITS,
    KEYSTONE_URL,
    PASTE_FILES,
    REGION,
    SHIPPED_FILES,
    VENV,
    controller_units,
)
from stackdrill.lab.cloud.naming import PACKAGES, LabNaming
from stackdrill.lab.cloud.release import RELEASES, RUNNING, SWITCH, switch_script
from stackdrill.lab.cloud.secrets import LabSecrets
from stackdrill.lab.system import in_host_output
from stackdrill.lab.topology import API_ADDRESS, SINGLE, SUBNET_PREFIX, LabPaths, Topology

DATABASES = {"keystone": "keystone", "placement": "placement", "glance": "glance",
             "nova_api": "nova", "nova": "nova", "nova_cell0": "nova", "cinder": "cinder",
             "neutron": "neutron"}
SERVICE_USERS = ("nova", "placement", "glance", "cinder", "neutron")
# roles the services' configurations name beyond keystone-manage bootstrap's: Swift's
# reseller_admin_role (Tempest's account quota tests give it to a user of theirs), as DevStack
# creates it
EXTRA_ROLES = ("ResellerAdmin",)
# Glance's metadata definitions, as its package ships them (in each release's virtualenv; the
# current one's here), loaded once the schema is there
SHIPPED_METADEFS = Path("etc") / "glance" / "metadefs"
METADEFS = VENV / SHIPPED_METADEFS
STATE_DIRS = ("/var/lib/nova/instances", "/var/lib/nova/tmp", "/var/lib/glance/images",
              "/var/lib/glance/staging", "/var/lib/glance/tasks", "/var/lib/cinder/tmp",
              "/var/lib/cinder/volumes",
              "/var/lib/neutron/tmp", "/var/log/keystone")

Log = Callable[[str], None]


# files a service that drops root reads, readable by all (the lab writes no secret in them)
WORLD_READABLE = ("/etc/rabbitmq/rabbitmq.conf",)
# scripts a service or the operator runs (keepalived's checks, the release switch an upgrade
# installs a release with: owned by root, written by nobody else)
EXECUTABLE = (PEER_CHECK, SWITCH)


def write_files(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        target = root / rel.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_symlink():
            target.unlink()
        target.write_text(text)
        private = rel.endswith((".conf", ".ini")) and rel not in WORLD_READABLE
        target.chmod(0o755 if rel in EXECUTABLE else 0o640 if private else 0o644)


def configure(paths: LabPaths, secrets: LabSecrets, naming: LabNaming = PACKAGES,
              topology: Topology = SINGLE, venv: Path = VENV) -> None:
    """Write every host's configuration into its writable layer (before or after boot), its
    services run from ``venv``, the OpenStack release's virtualenv, and the files the release
    ships there; on every host the switch to another release (an upgrade's install), and the
    series it runs."""
    series = next((r.series for r in RELEASES if r.venv == venv), "")
    for host in topology.hosts:
        root = paths.merged(host.name)
        write_files(root, {SWITCH: switch_script(), RUNNING: f"{series}\n"})
        if "controller" in host.roles:
            write_files(root, configs.controller_files(host, secrets, naming, topology, venv))
            for rel in (*PASTE_FILES, *SHIPPED_FILES):
                write_files(root, {f"/etc/{rel}": (venv / "etc" / rel).read_text()})
            if topology.clustered:
                clusters.write_erlang_cookie(root, secrets["erlang_cookie"])
        elif "compute" in host.roles:
            write_files(root, configs.compute_files(host, secrets, naming, topology, venv))
        elif host.name == BLOCK_STORAGE_HOST:
            write_files(root, configs.block_storage_files(host, secrets, naming, topology,
                                                          venv))
        for directory in STATE_DIRS:
            (root / directory.lstrip("/")).mkdir(parents=True, exist_ok=True)


class CloudBootstrap:
    """``venv``: the OpenStack release's virtualenv, whose commands make the schemas."""

    def __init__(self, in_host: Callable[..., Any], paths: LabPaths, secrets: LabSecrets,
                 log: Log = print, naming: LabNaming = PACKAGES,
                 topology: Topology = SINGLE, venv: Path = VENV) -> None:
        self.in_host = in_host
        self.venv = venv
        self.naming = naming
        self.paths = paths
        self.secrets = secrets
        self.log = log
        self.topology = topology
        self.first = topology.first_controller.name

    def sh(self, host: str, command: str, timeout: float = 300.0) -> str:
        return in_host_output(self.in_host, host, command, timeout)

    def wait_active(self, host: str, units: tuple[str, ...], timeout: float = 120.0) -> None:
        def active() -> bool:
            out = self.in_host(host, "systemctl is-active " + " ".join(units), check=False)
            return all(line == "active" for line in out.stdout.split())

        poll(active, timeout=timeout, description=f"{host}: {', '.join(units)} active")

    def run(self) -> None:
        started = time.monotonic()
        for stage in (self.databases, self.rabbitmq, self.keystone, self.catalog, self.schemas,
                      self.services, self.wait_computes):
            clock = time.monotonic()
            stage()
            self.log(f"lab cloud: {stage.__name__} done in {time.monotonic() - clock:.1f}s")
        self.log(f"lab cloud: up in {time.monotonic() - started:.0f}s")

    def services(self) -> None:
        controller = tuple(map(self.naming.unit, controller_units(self.topology)))
        if not self.topology.clustered:
            self.sh(self.first, "systemctl enable --now " + " ".join(controller))
        else:  # started together, waited for together
            for host in self.topology.controllers:
                self.sh(host.name, "systemctl enable --now --no-block " + " ".join(controller))
        for host in self.topology.controllers:
            self.wait_active(host.name, controller,
                             timeout=300.0 if self.topology.clustered else 120.0)
        for host in self.topology.with_role("compute"):
            self.sh(host.name, "systemctl enable --now "
                    + " ".join(map(self.naming.unit, COMPUTE_UNITS)))
        self.sh(BLOCK_STORAGE_HOST, "systemctl enable --now "
                + " ".join(map(self.naming.unit, BLOCK_STORAGE_UNITS)))

    def databases(self) -> None:
        if self.topology.clustered:
            clusters.form_galera(self.sh, self.topology.controllers, self.log)
        else:
            self.wait_active(self.first, ("mariadb",))
        password = self.secrets["database"]
        sql = []
        for db, user in DATABASES.items():
            sql.append(f"CREATE DATABASE IF NOT EXISTS {db};")
            sql.append(f"GRANT ALL PRIVILEGES ON {db}.* TO '{user}'@'%' "
                       f"IDENTIFIED BY '{password}';")
        if self.topology.clustered:  # HAProxy's mysql-check logs in from each controller
            sql.append(f"CREATE USER IF NOT EXISTS '{HAPROXY_CHECK_USER}'@'{SUBNET_PREFIX}.%';")
        self.sh(self.first, f"mysql -u root -e {shlex.quote(' '.join(sql))}")
        if self.topology.clustered:
            clusters.wait_database_behind_vip(self.sh, self.first, "keystone", password)

    def rabbitmq(self) -> None:
        if self.topology.clustered:
            clusters.form_rabbitmq(self.sh, self.topology.controllers, self.log)
        else:
            self.wait_active(self.first, ("rabbitmq-server",))
        password = shlex.quote(self.secrets["rabbit"])
        self.sh(self.first, f"rabbitmqctl -q add_user openstack {password} >/dev/null && "
                            "rabbitmqctl -q set_permissions openstack '.*' '.*' '.*'")

    def keystone(self) -> None:
        manage = f"{self.venv}/bin/keystone-manage"
        self.sh(self.first, f"{manage} db_sync && "
                            f"{manage} fernet_setup --keystone-user root --keystone-group root "
                            f"&& {manage} credential_setup --keystone-user root "
                            f"--keystone-group root")
        self.sh(self.first, f"{manage} bootstrap --bootstrap-password "
                            f"{shlex.quote(self.secrets['admin'])} "
                            f"--bootstrap-admin-url {KEYSTONE_URL} "
                            f"--bootstrap-internal-url {KEYSTONE_URL} "
                            f"--bootstrap-public-url {KEYSTONE_URL} "
                            f"--bootstrap-region-id {REGION}")
        if self.topology.clustered:
            clusters.copy_keystone_keys(self.paths, self.topology.controllers)
        for host in self.topology.controllers:
            self.sh(host.name, f"systemctl enable --now {self.naming.unit('keystone')} "
                               "memcached")
        if self.topology.clustered:
            clusters.wait_url_behind_vip(self.sh, self.first, KEYSTONE_URL)

    def admin_connection(self) -> Any:
        import openstack

        return openstack.connect(
            auth_url=KEYSTONE_URL, username="admin", password=self.secrets["admin"],
            project_name="admin", user_domain_name="Default", project_domain_name="Default",
            region_name=REGION, identity_api_version="3",
            # Never a clouds.yaml entry: a stale lab's (with old passwords) would win.
            load_yaml_config=False, load_envvars=False,
        )

    def catalog(self) -> None:
        def answering() -> Any:
            conn = self.admin_connection()
            conn.identity.get_token()
            return conn

        conn, _ = poll(answering, timeout=120, description="keystone answering",
                       ignore=(Exception,))
        identity = conn.identity
        project = identity.find_project("service") or identity.create_project(
            name="service", domain_id="default", description="OpenStack services")
        admin_role = identity.find_role("admin")
        for name in SERVICE_USERS:
            user = identity.find_user(name, domain_id="default") or identity.create_user(
                name=name, domain_id="default", password=self.secrets[name])
            identity.assign_project_role_to_user(project, user, admin_role)
            identity.assign_project_role_to_user(project, user,
                                                 identity.find_role("service") or admin_role)
        for role in EXTRA_ROLES:
            if identity.find_role(role) is None:
                identity.create_role(name=role)
        for name, kind, url in CATALOG:
            service = identity.find_service(name) or identity.create_service(name=name,
                                                                             type=kind)
            existing = {e.interface for e in identity.endpoints(service_id=service.id)}
            for interface in ("public", "internal", "admin"):
                if interface not in existing:
                    identity.create_endpoint(service_id=service.id, interface=interface,
                                             url=url, region_id=REGION)
        conn.close()

    def schemas(self) -> None:
        bin_dir = f"{self.venv}/bin"
        db_pw = self.secrets["database"]
        cell0 = f"mysql+pymysql://nova:{db_pw}@{API_ADDRESS}/nova_cell0?charset=utf8"
        nova = (f"{bin_dir}/nova-manage api_db sync && "
                f"{bin_dir}/nova-manage cell_v2 map_cell0 --database_connection {cell0} && "
                f"({bin_dir}/nova-manage cell_v2 list_cells | grep -q ' cell1 ' || "
                f"{bin_dir}/nova-manage cell_v2 create_cell --name cell1) && "
                f"{bin_dir}/nova-manage db sync")
        jobs = {
            "placement": f"{bin_dir}/placement-manage db sync",
            "glance": f"{bin_dir}/glance-manage db_sync && " + load_metadefs(venv=self.venv),
            "nova": nova,
            "cinder": f"{bin_dir}/cinder-manage db sync",
            "neutron": f"{bin_dir}/neutron-db-manage --config-file /etc/neutron/neutron.conf "
                       f"--config-file /etc/neutron/plugins/ml2/ml2_conf.ini upgrade head",
        }
        script = " ".join(
            f"( {cmd} ) >/var/log/stackdrill-schema-{name}.log 2>&1 & pids=\"$pids $!:{name}\";"
            for name, cmd in jobs.items())
        script += (' failed=""; for p in $pids; do wait "${p%%:*}" || '
                   'failed="$failed ${p#*:}"; done; '
                   'for f in $failed; do echo "$f: $(tail -n 1 /var/log/stackdrill-schema-$f.log)";'
                   ' done; [ -z "$failed" ]')
        self.sh(self.first, script, timeout=900)

    def wait_computes(self, timeout: float = 180.0) -> None:
        computes = sorted(h.name for h in self.topology.with_role("compute"))
        conn = self.admin_connection()

        def registered() -> bool:
            services = {s.host: s for s in conn.compute.services(binary="nova-compute")}
            hypervisors = {h.name for h in conn.compute.hypervisors()}
            cinder = [(s.binary, s.host.split("@")[0]) for s in conn.block_storage.services()
                      if s.state == "up"]
            block_up = all((binary, BLOCK_STORAGE_HOST) in cinder
                           for binary in ("cinder-volume", "cinder-backup"))
            return block_up and all(name in services and services[name].state == "up"
                                    and name in hypervisors for name in computes)

        try:
            poll(registered, timeout=timeout, description="nova-compute up on every compute, "
                 "its hypervisor discovered, and cinder-volume and cinder-backup up",
                 ignore=(Exception,))
        finally:
            conn.close()


def load_metadefs(source: Path | None = None, venv: Path = VENV) -> str:
    """The shell command that loads Glance's metadata definitions (by default those ``venv``
    ships) into its database and fails unless resource types are there after it:
    ``glance-manage`` logs a missing or empty directory and still exits 0. Loading again skips
    the namespaces already there."""
    source = venv / SHIPPED_METADEFS if source is None else source
    path = shlex.quote(str(source))
    count = shlex.quote("SELECT COUNT(*) FROM metadef_resource_types")
    missing = shlex.quote(f"glance: no metadata definition resource types loaded from {source}")
    return (f"{venv}/bin/glance-manage db load_metadefs --path {path} && "
            f'{{ test "$(mysql -u root -N -B glance -e {count})" -gt 0 || '
            f"{{ echo {missing}; exit 1; }}; }}")


def clouds_yaml(secrets: LabSecrets) -> dict[str, Any]:
    return {"clouds": {CLOUD_NAME: {
        "auth": {"auth_url": KEYSTONE_URL, "username": "admin", "password": secrets["admin"],
                 "project_name": "admin", "user_domain_name": "Default",
                 "project_domain_name": "Default"},
        "region_name": REGION, "identity_api_version": 3, "interface": "public",
    }}}


def write_clouds_yaml(paths: LabPaths, secrets: LabSecrets,
                      system_file: Path = Path("/etc/openstack/clouds.yaml")) -> Path:
    """The lab's clouds.yaml, also merged into the system-wide one that openstacksdk and the
    openstack CLI read, so that ``OS_CLOUD=stackdrill-lab openstack server list`` works."""
    entry = clouds_yaml(secrets)
    path = paths.root / "clouds.yaml"
    path.touch(mode=0o600)
    path.write_text(yaml.safe_dump(entry, sort_keys=False))
    merged: dict[str, Any] = {}
    if system_file.exists():
        loaded = yaml.safe_load(system_file.read_text())
        merged = loaded if isinstance(loaded, dict) else {}
    merged.setdefault("clouds", {}).update(entry["clouds"])
    system_file.parent.mkdir(parents=True, exist_ok=True)
    system_file.touch(mode=0o600)
    system_file.write_text(yaml.safe_dump(merged, sort_keys=False))
    return path


def api_ports() -> dict[str, int]:
    return {name: port for name, (port, _, _) in APIS.items()}

