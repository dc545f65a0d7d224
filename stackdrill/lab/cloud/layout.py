"""Where the lab cloud's pieces live and how they are reached."""

from __future__ import annotations

from pathlib import Path

from stackdrill.lab.topology import host_by_name

VENV = Path("/opt/stackdrill-lab/openstack")
WSGI_DIR = "/etc/stackdrill-lab/wsgi"
REGION = "RegionOne"
CLOUD_NAME = "stackdrill-lab"
CONTROLLER = host_by_name("controller").address
KEYSTONE_URL = f"http://{CONTROLLER}:5000/v3"

# name: (port, WSGI module, application), all behind gunicorn on the controller.
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
    ("placement", "placement", f"http://{CONTROLLER}:8778"),
    ("glance", "image", f"http://{CONTROLLER}:9292"),
    ("nova", "compute", f"http://{CONTROLLER}:8774/v2.1"),
    ("cinderv3", "volumev3", f"http://{CONTROLLER}:8776/v3/%(project_id)s"),
    ("neutron", "network", f"http://{CONTROLLER}:9696"),
)

CONTROLLER_UNITS = ("mariadb", "rabbitmq-server", "memcached", *APIS, "nova-conductor",
                    "nova-scheduler", "cinder-scheduler")
COMPUTE_UNITS = ("nova-compute",)
# Block storage: cinder-volume with the lab's file-backed driver, exported by tgtd.
BLOCK_STORAGE_HOST = "storage1"
BLOCK_STORAGE_UNITS = ("tgt", "cinder-volume")
BLOCK_BACKEND = "lab-file"
# Modules the lab's OpenStack services import (stackdrill/lab/cloud/inhost), on every host.
INHOST_DIR = "/etc/stackdrill-lab/python"
