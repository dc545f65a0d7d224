"""Where the lab cloud's pieces live and how they are reached."""

from __future__ import annotations

from pathlib import Path

from stackdrill.lab.topology import API_ADDRESS, LabHost, Topology

VENV = Path("/opt/stackdrill-lab/openstack")
WSGI_DIR = "/etc/stackdrill-lab/wsgi"
REGION = "RegionOne"
CLOUD_NAME = "stackdrill-lab"
KEYSTONE_URL = f"http://{API_ADDRESS}:5000/v3"

# name: (port, WSGI module, application), all behind gunicorn on each controller.
APIS: dict[str, tuple[int, str, str]] = {
    "keystone": (5000, "keystone.wsgi.api", "application"),
    "placement-api": (8778, "placement.wsgi.api", "application"),
    "glance-api": (9292, "glance.wsgi.api", "application"),
    "nova-api": (8774, "nova.wsgi.osapi_compute", "application"),
    "cinder-api": (8776, "cinder.wsgi.api", "application"),
    "neutron-api": (9696, "neutron.wsgi.api", "application"),
}

# Catalog entries registered in Keystone: service name, type, URL path.
CATALOG: tuple[tuple[str, str, str], ...] = (
    ("placement", "placement", f"http://{API_ADDRESS}:8778"),
    ("glance", "image", f"http://{API_ADDRESS}:9292"),
    ("nova", "compute", f"http://{API_ADDRESS}:8774/v2.1"),
    ("cinderv3", "volumev3", f"http://{API_ADDRESS}:8776/v3/%(project_id)s"),
    ("neutron", "network", f"http://{API_ADDRESS}:9696"),
)

CONTROLLER_UNITS = ("mariadb", "rabbitmq-server", "memcached", *APIS, "nova-conductor",
                    "nova-scheduler", "cinder-scheduler")
# The HA topology's front end, on each of its controllers besides the units above.
FRONT_END_UNITS = ("haproxy", "keepalived")
COMPUTE_UNITS = ("nova-compute",)
# Block storage: cinder-volume with the lab's file-backed driver, exported by tgtd, and
# cinder-backup beside it (backups to Swift): the one host where a backup can read a volume,
# as the lab's kernel has no iSCSI initiator (the driver hands its own host the volume's file).
BLOCK_STORAGE_HOST = "storage1"
BLOCK_STORAGE_UNITS = ("tgt", "cinder-volume", "cinder-backup")
BLOCK_BACKEND = "lab-file"
# Modules the lab's OpenStack services import (stackdrill/lab/cloud/inhost), on every host.
INHOST_DIR = "/etc/stackdrill-lab/python"

AMQP_PORT = 5672
MEMCACHED_PORT = 11211


def controller_units(topology: Topology) -> tuple[str, ...]:
    """The units each controller of ``topology`` runs (Swift's proxy aside)."""
    return (*CONTROLLER_UNITS, *(FRONT_END_UNITS if topology.clustered else ()))


def transport_url(topology: Topology, password: str) -> str:
    """oslo.messaging's URL: every controller's RabbitMQ node, each a host of the URL."""
    nodes = ",".join(f"openstack:{password}@{host.address}:{AMQP_PORT}"
                     for host in topology.controllers)
    return f"rabbit://{nodes}/"


def memcached_servers(topology: Topology) -> str:
    return ",".join(f"{host.address}:{MEMCACHED_PORT}" for host in topology.controllers)


def bind_address(topology: Topology, host: LabHost) -> str:
    """What a controller's services listen on: every address on the single controller; on an
    HA controller its own address, HAProxy holding the VIP's ports."""
    return host.address if topology.clustered else "0.0.0.0"  # noqa: S104 (a private bridge)


def api_workers(topology: Topology) -> int:
    """gunicorn workers per API: two on the single controller; one on each HA controller,
    where three controllers share the machine's two CPUs."""
    return 1 if topology.clustered else 2


# the APIs' paste files, as each release's package ships them under its virtualenv's etc/
PASTE_FILES = ("nova/api-paste.ini", "glance/glance-api-paste.ini", "cinder/api-paste.ini",
               "neutron/api-paste.ini")
# what else the APIs read from /etc as their packages ship it: the filters cinder-api lets a
# volume list take (without the file it ignores ?name= and the rest, and logs an error)
SHIPPED_FILES = ("cinder/resource_filters.json",)
