"""``tempest.conf`` from the cloud's clouds.yaml entry (the drill's cloud access: its Keystone,
region, interface and admin credentials), what the cloud says of itself
(:mod:`.discovery`) and the inventory's ``tempest`` key (its ``options`` last, over everything).

Tempest makes its own users and projects for each test class (dynamic credentials) with the
admin credentials, so the file holds the admin password: it is written with mode 0600 into a
private workspace (:func:`write_private`), and neither it nor its text is ever logged or
attached to the evidence.

What is declared, and why (the embedded lab's values by default):

- ``[service_available]``: compute, volume, image and object storage as the catalog lists
  them (or the inventory says); Neutron only with ``guest_networking``, since Tempest would
  otherwise boot its servers on networks of its own that need working ports (the lab boots its
  servers with ``networks='none'``); no Horizon.
- ``[validation] run_validation``: ``ssh_validation`` (off: Tempest never logs in to a guest).
- ``[volume]``: the block storage catalog type as the catalog spells it, the storage protocol
  (iSCSI) and vendor; ``[volume-feature-enabled]``: snapshots and clones as the inventory says
  (off by default), backups as the inventory says or whether a cinder-backup service is up.
- ``[object-storage-feature-enabled]``: the middleware Swift's ``/info`` names, and container
  sync and object versioning only where it names them.
- ``[compute]``: the image and flavor IDs, and the inventory's number of compute hosts (Tempest
  skips migrations below two).
"""

from __future__ import annotations

import configparser
import io
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from stackdrill.cloud.tempest import TempestError
from stackdrill.cloud.tempest.discovery import CloudFacts
from stackdrill.inventory.model import TEMPEST_SERVICES, TempestSpec

__all__ = ["Credentials", "render", "tempest_conf", "write_private"]

Conf = dict[str, dict[str, str]]


@dataclass(frozen=True)
class Credentials:
    """The clouds.yaml entry as Tempest needs it: Keystone v3, the admin user and project."""

    auth_url: str
    username: str
    password: str = field(repr=False)
    project_name: str
    user_domain_name: str = "Default"
    project_domain_name: str = "Default"
    region: str = "RegionOne"
    interface: str = "public"
    verify: bool = True
    cacert: str | None = None

    @property
    def uri_v3(self) -> str:
        """The Keystone URL with its ``/v3``."""
        url = self.auth_url.rstrip("/")
        return url if urlsplit(url).path.endswith("/v3") else f"{url}/v3"


def credentials_of(cloud: str, region: Any) -> Credentials:
    """The credentials of a clouds.yaml entry as openstacksdk reads it (a ``CloudRegion``);
    one without a user name, password and project name cannot give Tempest admin credentials.
    """
    config = region.config
    auth = config.get("auth") or {}
    missing = [key for key in ("auth_url", "username", "password", "project_name")
               if not auth.get(key)]
    if missing:
        raise TempestError(f"Tempest needs the admin's {', '.join(missing)} in the clouds.yaml "
                           f"entry of cloud {cloud!r} (password authentication)")
    verify = config.get("verify", True)
    return Credentials(
        auth_url=str(auth["auth_url"]), username=str(auth["username"]),
        password=str(auth["password"]), project_name=str(auth["project_name"]),
        user_domain_name=str(auth.get("user_domain_name") or "Default"),
        project_domain_name=str(auth.get("project_domain_name") or "Default"),
        region=str(region.region_name or "RegionOne"),
        interface=str(config.get("interface") or "public"),
        verify=verify is not False, cacert=config.get("cacert"))


def _flag(value: bool) -> str:
    return "true" if value else "false"


def _literal(text: str) -> str:
    """``text`` as oslo.config reads it back: a ``$`` would start a substitution."""
    return text.replace("$", "$$")


def _identity(creds: Credentials, spec: TempestSpec) -> Conf:
    return {
        "auth": {"use_dynamic_credentials": "true",
                 "create_isolated_networks": _flag(spec.guest_networking),
                 "admin_username": _literal(creds.username),
                 "admin_password": _literal(creds.password),
                 "admin_project_name": _literal(creds.project_name),
                 "admin_user_domain_name": _literal(creds.user_domain_name),
                 "admin_project_domain_name": _literal(creds.project_domain_name),
                 "admin_domain_name": _literal(creds.user_domain_name)},
        "identity": {"uri_v3": creds.uri_v3, "region": creds.region,
                     "v3_endpoint_type": creds.interface,
                     "disable_ssl_certificate_validation": _flag(not creds.verify),
                     **({"ca_certificates_file": creds.cacert} if creds.cacert else {})},
    }


def _services(spec: TempestSpec, facts: CloudFacts) -> dict[str, str]:
    listed = {"compute": facts.has("compute"), "image": facts.has("image"),
              "volume": facts.has("block-storage", "volumev3", "volume"),
              "object-storage": facts.has("object-store")}
    available = {TEMPEST_SERVICES[key]: _flag(spec.services.get(key, found))
                 for key, found in listed.items()}
    network = spec.guest_networking and facts.has("network")
    return {**available, "neutron": _flag(network), "horizon": "false"}


def _compute(spec: TempestSpec, facts: CloudFacts) -> Conf:
    return {
        "compute": {"image_ref": facts.image, "image_ref_alt": facts.image_alt,
                    "flavor_ref": facts.flavor, "flavor_ref_alt": facts.flavor_alt,
                    "min_compute_nodes": str(facts.compute_hosts)},
        "compute-feature-enabled": {"interface_attach": _flag(spec.guest_networking),
                                    "attach_encrypted_volume": "false"},
        "validation": {"run_validation": _flag(spec.ssh_validation)},
    }


def _volume(spec: TempestSpec, facts: CloudFacts) -> Conf:
    backups = spec.backups if spec.backups is not None else bool(facts.backup_service)
    return {
        "volume": {"catalog_type": facts.volume_type(),
                   "storage_protocol": spec.storage_protocol,
                   "vendor_name": spec.vendor_name},
        "volume-feature-enabled": {"snapshot": _flag(spec.snapshots),
                                   "clone": _flag(spec.clones),
                                   "backup": _flag(backups),
                                   "extend_volume_with_snapshot": _flag(spec.snapshots)},
    }


def _object_storage(facts: CloudFacts) -> Conf:
    if facts.swift_apis is None:
        return {}
    apis = facts.swift_apis
    return {"object-storage-feature-enabled": {
        "discoverable_apis": ",".join(apis) if apis else "",
        "container_sync": _flag("container_sync" in apis),
        "object_versioning": _flag("versioned_writes" in apis),
        "discoverability": "true"}}


def _endpoints(creds: Credentials) -> Conf:
    """Every service's region and interface as the clouds.yaml entry says."""
    return {section: {"region": creds.region, "endpoint_type": creds.interface}
            for section in ("compute", "image", "volume", "object-storage", "network")}


def tempest_conf(spec: TempestSpec, creds: Credentials, facts: CloudFacts) -> Conf:
    """Every section and option stackdrill writes, the inventory's ``options`` last."""
    conf: Conf = {}
    parts: list[Mapping[str, Mapping[str, str]]] = [
        _identity(creds, spec), {"service_available": _services(spec, facts)},
        _endpoints(creds), _compute(spec, facts), _volume(spec, facts),
        _object_storage(facts), spec.options]
    for part in parts:
        for section, values in part.items():
            conf.setdefault(section, {}).update(values)
    return {section: values for section, values in conf.items() if values}


def render(conf: Conf) -> str:
    """The INI text of ``conf``, sections and options in the order given."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_dict(conf)
    out = io.StringIO()
    parser.write(out)
    return out.getvalue()


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` readable by its owner only (0600), whatever was there."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        os.fchmod(handle.fileno(), 0o600)
        handle.write(text)


def capabilities(spec: TempestSpec, facts: CloudFacts) -> str:
    """What Tempest is told of the cloud, for the evidence: the sections stackdrill derives
    from the cloud and the inventory, which hold no credential, and the names (not the values)
    of the options the inventory sets."""
    derived: list[Mapping[str, Mapping[str, str]]] = [
        {"service_available": _services(spec, facts)}, _compute(spec, facts),
        _volume(spec, facts), _object_storage(facts)]
    lines = [f"[{section}] {key} = {value}" for part in derived
             for section, values in part.items() for key, value in values.items()]
    lines += [f"set by the inventory: [{section}] {key}"
              for section, values in spec.options.items() for key in values]
    return "\n".join([*lines, *facts.notes])
