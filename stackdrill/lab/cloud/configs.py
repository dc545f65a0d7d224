"""Configuration files and systemd units of the lab cloud, rendered per host."""

from __future__ import annotations

from pathlib import Path

from stackdrill.lab.cloud import ha_configs
from stackdrill.lab.cloud.layout import (
    APIS,
    BLOCK_BACKEND,
    INHOST_DIR,
    KEYSTONE_URL,
    REGION,
    VENV,
    WSGI_DIR,
    api_workers,
    bind_address,
    memcached_servers,
    transport_url,
)
from stackdrill.lab.cloud.naming import PACKAGES, LabNaming
from stackdrill.lab.cloud.secrets import LabSecrets
from stackdrill.lab.topology import API_ADDRESS, SINGLE, LabHost, Topology

INHOST_SOURCES = Path(__file__).with_name("inhost")


def _db(secrets: LabSecrets, user: str, name: str) -> str:
    """Every service reaches the database at the API address (through HAProxy, in HA)."""
    return f"mysql+pymysql://{user}:{secrets['database']}@{API_ADDRESS}/{name}?charset=utf8"


def _transport(secrets: LabSecrets, topology: Topology) -> str:
    return transport_url(topology, secrets["rabbit"])


def _quorum_queues(topology: Topology) -> str:
    """In HA, oslo.messaging's quorum queues: each RPC queue replicated over the RabbitMQ
    cluster (oslo.messaging 18 has ``rabbit_quorum_queue``; RabbitMQ has had them since 3.8)."""
    if not topology.clustered:
        return ""
    return "\n[oslo_messaging_rabbit]\nrabbit_quorum_queue = true\n"


def _auth_section(section: str, user: str, secrets: LabSecrets) -> str:
    return f"""
[{section}]
auth_url = {KEYSTONE_URL}
auth_type = password
project_domain_name = Default
user_domain_name = Default
project_name = service
username = {user}
password = {secrets[user]}
region_name = {REGION}
"""


def _authtoken(user: str, secrets: LabSecrets, topology: Topology) -> str:
    return _auth_section("keystone_authtoken", user, secrets) + f"""\
www_authenticate_uri = {KEYSTONE_URL}
memcached_servers = {memcached_servers(topology)}
service_token_roles_required = true
"""


def _unit(description: str, exec_start: str, after: str = "network-online.target",
          environment: str = "") -> str:
    env = f"Environment={environment}\n" if environment else ""
    return f"""[Unit]
Description={description}
After={after}

[Service]
Type=simple
{env}Environment=PYTHONDONTWRITEBYTECODE=1
ExecStart={exec_start}
Restart=on-failure
RestartSec=2
TimeoutStopSec=20
KillMode=mixed

[Install]
WantedBy=multi-user.target
"""


# neutron-api, without the agents' service plugins loaded, maps its models lazily: load them
# all and configure the mappers, as the neutron-server process does.
NEUTRON_MODELS = """
import neutron.db.migration.models.head  # noqa: E402,F401
from sqlalchemy import orm  # noqa: E402
orm.configure_mappers()
"""


def _wsgi_wrapper(module: str, app: str, argv: list[str], after: str = "") -> str:
    return f'''"""gunicorn entry point: oslo.config must not see gunicorn's own arguments."""
import sys

sys.argv = {argv!r}
from {module} import {app} as application  # noqa: E402
{after}'''


def _privsep_helpers(venv: Path, conf: str, *sections: str) -> str:
    """Each privsep context's helper, run from ``venv``, the OpenStack release's virtualenv."""
    return "".join(f"\n[{section}]\nhelper_command = {venv}/bin/privsep-helper --config-file "
                   f"{conf}\n" for section in sections)


def nova_conf(host: LabHost, secrets: LabSecrets, topology: Topology = SINGLE,
              venv: Path = VENV) -> str:
    text = f"""[DEFAULT]
transport_url = {_transport(secrets, topology)}
my_ip = {host.address}
host = {host.name}
state_path = /var/lib/nova
instances_path = /var/lib/nova/instances
report_interval = 2
service_down_time = 10
periodic_fuzzy_delay = 0
use_rootwrap_daemon = false

[api]
auth_strategy = keystone

[api_database]
connection = {_db(secrets, "nova", "nova_api")}

[database]
connection = {_db(secrets, "nova", "nova")}

[scheduler]
discover_hosts_in_cells_interval = 2

[oslo_concurrency]
lock_path = /var/lib/nova/tmp

[wsgi]
api_paste_config = /etc/nova/api-paste.ini

[glance]
region_name = {REGION}

[cinder]
os_region_name = {REGION}

[vnc]
enabled = false

[libvirt]
virt_type = qemu
cpu_mode = none
""" + _privsep_helpers(venv, "/etc/nova/nova.conf", "nova_sys_admin", "privsep_osbrick")
    text += _authtoken("nova", secrets, topology)
    text += _auth_section("service_user", "nova", secrets) + "send_service_user_token = true\n"
    text += _auth_section("placement", "placement", secrets)
    text += _auth_section("neutron", "neutron", secrets)
    text = _one_worker_each(text + _quorum_queues(topology), host, topology)
    if "compute" in host.roles:
        text = text.replace("[DEFAULT]\n",
                            "[DEFAULT]\ncompute_driver = libvirt.LibvirtDriver\n", 1)
        text = text.replace("[libvirt]\n", "[libvirt]\nlive_migration_scheme = tcp\n"
                            f"live_migration_inbound_addr = {host.address}\n", 1)
    return text


def _one_worker_each(nova: str, host: LabHost, topology: Topology) -> str:
    """On an HA controller, nova-conductor and nova-scheduler run one worker each: three
    controllers share the machine's two CPUs."""
    if not topology.is_clustered_controller(host):
        return nova
    return nova.replace("[scheduler]\n", "[scheduler]\nworkers = 1\n", 1) + (
        "\n[conductor]\nworkers = 1\n")


# cinder-backup, beside cinder-volume on the block storage host: Swift as the target, reached
# with each request's own Keystone token at the catalog's object-store endpoint (per_user; the
# backups land in the project's own account, container ``volumebackups``); one process, the
# smallest native thread pool Cinder allows and 16 MiB objects (Cinder's default is 50 MiB, each
# held in memory while it is compressed), so a backup stays small on the machine.
BACKUP_OPTIONS = """\
backup_driver = cinder.backup.drivers.swift.SwiftBackupDriver
backup_swift_auth = per_user
swift_catalog_info = object-store:swift:publicURL
backup_swift_object_size = 16777216
backup_workers = 1
backup_native_threads_pool_size = 20
"""


def cinder_conf(host: LabHost, secrets: LabSecrets, topology: Topology = SINGLE,
                venv: Path = VENV) -> str:
    text = f"""[DEFAULT]
transport_url = {_transport(secrets, topology)}
auth_strategy = keystone
my_ip = {host.address}
host = {host.name}
state_path = /var/lib/cinder
api_paste_config = /etc/cinder/api-paste.ini
report_interval = 2
service_down_time = 10

[database]
connection = {_db(secrets, "cinder", "cinder")}

[oslo_concurrency]
lock_path = /var/lib/cinder/tmp
""" + _privsep_helpers(venv, "/etc/cinder/cinder.conf", "cinder_sys_admin", "privsep_osbrick")
    text += _authtoken("cinder", secrets, topology) + _quorum_queues(topology)
    if "storage" in host.roles:
        text = text.replace("[DEFAULT]\n", f"[DEFAULT]\nenabled_backends = {BLOCK_BACKEND}\n"
                            + BACKUP_OPTIONS, 1)
        text += f"""
[{BLOCK_BACKEND}]
volume_driver = stackdrill_lab_cinder.FileISCSIDriver
volume_backend_name = {BLOCK_BACKEND}
target_helper = tgtadm
target_protocol = iscsi
target_ip_address = {host.address}
volumes_dir = /var/lib/cinder/volumes
lab_volumes_dir = /var/lib/stackdrill-lab-volumes
"""
    return text


def inhost_modules() -> dict[str, str]:
    return {f"{INHOST_DIR}/{source.name}": source.read_text()
            for source in sorted(INHOST_SOURCES.glob("*.py"))}


def controller_files(host: LabHost, secrets: LabSecrets, naming: LabNaming = PACKAGES,
                     topology: Topology = SINGLE, venv: Path = VENV) -> dict[str, str]:
    """A controller's configuration files and the units of its API and control services, which
    run ``venv``'s commands."""
    infrastructure = (ha_configs.controller_infrastructure(topology, host, secrets)
                      if topology.clustered else _infrastructure_files())
    return {
        **infrastructure,
        "/etc/keystone/keystone.conf": _keystone_conf(secrets, topology),
        "/etc/placement/placement.conf": _placement_conf(secrets, topology),
        "/etc/glance/glance-api.conf": _glance_conf(secrets, topology),
        "/etc/nova/nova.conf": nova_conf(host, secrets, topology, venv),
        "/etc/cinder/cinder.conf": cinder_conf(host, secrets, topology, venv),
        "/etc/neutron/neutron.conf": _neutron_conf(secrets, topology),
        "/etc/neutron/plugins/ml2/ml2_conf.ini": ML2_CONF,
        **_api_files(naming, topology, host, venv),
        **_control_units(naming, venv),
    }


def _infrastructure_files() -> dict[str, str]:
    """The single controller's MariaDB and memcached, as the services use them."""
    return {
        "/etc/mysql/mariadb.conf.d/99-stackdrill.cnf":
            "[mysqld]\nbind-address = 0.0.0.0\nmax_connections = 1000\n"
            "skip-name-resolve\n",
        "/etc/memcached.conf": "-m 64\n-p 11211\n-u memcache\n-l 0.0.0.0\n"
                               "-P /var/run/memcached/memcached.pid\n",
    }


def _keystone_conf(secrets: LabSecrets, topology: Topology) -> str:
    return f"""[database]
connection = {_db(secrets, "keystone", "keystone")}

[token]
provider = fernet

[identity]
password_hash_rounds = 4
""" + _keystone_cache(topology)


def _keystone_cache(topology: Topology) -> str:
    """Keystone caches in every controller's memcached, as production deployments and DevStack
    do: uncached, each validation rebuilds the token's roles and catalog from the database, and
    the single controller's two workers, sharing two CPUs with the whole lab, took seconds to
    validate a token while drills ran."""
    return f"""
[cache]
enabled = true
backend = oslo_cache.memcache_pool
memcache_servers = {memcached_servers(topology)}
"""


def _placement_conf(secrets: LabSecrets, topology: Topology) -> str:
    return f"""[api]
auth_strategy = keystone

[placement_database]
connection = {_db(secrets, "placement", "placement")}
""" + _authtoken("placement", secrets, topology)


def _glance_conf(secrets: LabSecrets, topology: Topology) -> str:
    return f"""[DEFAULT]
enabled_backends = fs:file
bind_host = 0.0.0.0

[database]
connection = {_db(secrets, "glance", "glance")}

[paste_deploy]
flavor = keystone

[glance_store]
default_backend = fs

[fs]
filesystem_store_datadir = /var/lib/glance/images

[os_glance_staging_store]
filesystem_store_datadir = /var/lib/glance/staging

[os_glance_tasks_store]
filesystem_store_datadir = /var/lib/glance/tasks
""" + _authtoken("glance", secrets, topology)


def _neutron_conf(secrets: LabSecrets, topology: Topology) -> str:
    return f"""[DEFAULT]
core_plugin = ml2
service_plugins = router,port_forwarding
transport_url = {_transport(secrets, topology)}
auth_strategy = keystone
notify_nova_on_port_status_changes = false
notify_nova_on_port_data_changes = false
api_paste_config = /etc/neutron/api-paste.ini

[database]
connection = {_db(secrets, "neutron", "neutron")}

[oslo_concurrency]
lock_path = /var/lib/neutron/tmp
""" + (_authtoken("neutron", secrets, topology) + _auth_section("nova", "nova", secrets)
       + _quorum_queues(topology))


ML2_CONF = """[ml2]
type_drivers = flat
tenant_network_types =
mechanism_drivers =
extension_drivers =

[ml2_type_flat]
flat_networks = *
"""


def _api_files(naming: LabNaming, topology: Topology, host: LabHost,
               venv: Path) -> dict[str, str]:
    """Each API's gunicorn entry point and its unit."""
    files: dict[str, str] = {}
    wsgi_argv = {
        "neutron-api": ["neutron-api", "--config-file", "/etc/neutron/neutron.conf",
                        "--config-file", "/etc/neutron/plugins/ml2/ml2_conf.ini"],
    }
    env = {
        "nova-api": "OS_NOVA_CONFIG_FILES=api-paste.ini;nova.conf",
    }
    for name, (port, module, app) in APIS.items():
        wrapper = "wsgi_" + name.replace("-", "_")
        files[f"{WSGI_DIR}/{wrapper}.py"] = _wsgi_wrapper(
            module, app, wsgi_argv.get(name, [name]),
            NEUTRON_MODELS if name == "neutron-api" else "")
        files[naming.service_file(name)] = _unit(
            f"OpenStack {name} (gunicorn)",
            f"{venv}/bin/gunicorn --no-control-socket --workers {api_workers(topology)} "
            f"--bind {bind_address(topology, host)}:{port} "
            # no request-line limit: Nova asks Neutron for the ports of a page of servers in
            # one query string, longer than gunicorn's default 4094 bytes at 1,000 servers
            f"--timeout 120 --limit-request-line 0 --chdir {WSGI_DIR} --name {name} "
            f"{wrapper}:application",
            after="network-online.target mariadb.service memcached.service",
            environment=env.get(name, ""),
        )
    return files


def _control_units(naming: LabNaming, venv: Path) -> dict[str, str]:
    """The units of the controller's services that are not APIs."""
    files: dict[str, str] = {}
    for name, conf in (("nova-conductor", "/etc/nova/nova.conf"),
                       ("nova-scheduler", "/etc/nova/nova.conf"),
                       ("cinder-scheduler", "/etc/cinder/cinder.conf")):
        files[naming.service_file(name)] = _unit(
            f"OpenStack {name}", f"{venv}/bin/{name} --config-file {conf}",
            after="network-online.target mariadb.service rabbitmq-server.service")
    return files


def compute_files(host: LabHost, secrets: LabSecrets, naming: LabNaming = PACKAGES,
                  topology: Topology = SINGLE, venv: Path = VENV) -> dict[str, str]:
    return {
        **inhost_modules(),
        # os-brick reports this name in the connector Cinder exports volumes to.
        "/etc/iscsi/initiatorname.iscsi":
            f"InitiatorName=iqn.2026-11.org.stackdrill.lab:{host.name}\n",
        "/etc/nova/nova.conf": nova_conf(host, secrets, topology, venv),
        naming.service_file("nova-compute"): _unit(
            "OpenStack nova-compute (iSCSI volumes through qemu's initiator)",
            f"{venv}/bin/python -m stackdrill_lab_nova_compute --config-file /etc/nova/nova.conf",
            after="network-online.target libvirtd.service",
            environment=f"PYTHONPATH={INHOST_DIR}"),
    }


def block_storage_files(host: LabHost, secrets: LabSecrets, naming: LabNaming = PACKAGES,
                        topology: Topology = SINGLE, venv: Path = VENV) -> dict[str, str]:
    return {
        **inhost_modules(),
        "/etc/cinder/cinder.conf": cinder_conf(host, secrets, topology, venv),
        "/etc/tgt/conf.d/cinder.conf": "include /var/lib/cinder/volumes/*\n",
        naming.service_file("cinder-volume"): _unit(
            "OpenStack cinder-volume (file-backed LUNs exported by tgtd)",
            f"{venv}/bin/cinder-volume --config-file /etc/cinder/cinder.conf",
            after="network-online.target tgt.service",
            environment=f"PYTHONPATH={INHOST_DIR}"),
        naming.service_file("cinder-backup"): _unit(
            "OpenStack cinder-backup (volume backups to Swift)",
            f"{venv}/bin/cinder-backup --config-file /etc/cinder/cinder.conf"),
    }
