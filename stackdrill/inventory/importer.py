"""``stackdrill inventory import``: a stackdrill inventory from an Ansible inventory.

Reads Ansible's INI form (``[group]``, ``[group:children]``, ``[group:vars]``, host ranges such as
``compute[01:03]``), its YAML form (``all: {hosts, vars, children}``) and the JSON a dynamic
inventory prints (:mod:`stackdrill.inventory.ansible_files`), including kolla-ansible's
``multinode``. Each host gets the roles of the groups it is in, directly or through
``:children`` (:data:`~stackdrill.inventory.import_roles.GROUP_ROLES`); a host without a role
stackdrill knows (kolla's ``localhost`` in ``deployment``, a monitoring-only host) is left out and
named on stderr. Connection variables become ``ssh`` settings: ``ansible_host`` (the address),
``ansible_user``, ``ansible_port`` and ``ansible_ssh_private_key_file``. The database and
messaging groups give ``clusters:`` (``galera``, ``rabbitmq``) when they hold more than one host.
OpenStack-Ansible's generated ``openstack_inventory.json``, with its ``openstack_user_config.yml``,
is converted to its physical hosts by :mod:`stackdrill.inventory.osa`. The result is checked with
the inventory schema before it is written.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import yaml

from stackdrill.inventory.ansible_files import (
    AnsibleInventory,
    InventoryImportError,
    expand_hosts,
    parse_ini,
    parse_json,
    parse_yaml,
    read_ansible_inventory,
)
from stackdrill.inventory.import_roles import (
    GROUP_ROLES,
    Conversion,
    derive_clusters,
    host_entry,
    roles_of,
)
from stackdrill.inventory.loader import parse_inventory
from stackdrill.inventory.osa import (
    convert_osa,
    is_openstack_ansible,
    read_user_config,
    user_config_beside,
)

__all__ = [
    "GROUP_ROLES",
    "AnsibleInventory",
    "Conversion",
    "InventoryImportError",
    "convert",
    "expand_hosts",
    "import_inventory",
    "parse_ini",
    "parse_json",
    "parse_yaml",
]

DEFAULT_PROFILE = "packages"
OSA_PROFILE = "openstack-ansible"


def convert(inventory: AnsibleInventory, *, profile: str, source: str) -> Conversion:
    """A generic Ansible inventory (kolla-ansible's ``multinode``, DevStack's, a hand-written
    one): every host with a role, and the clusters of its database and messaging groups."""
    hosts: dict[str, Any] = {}
    skipped: list[str] = []
    for host, groups, host_vars in inventory.hosts():
        roles = roles_of(groups)
        if not roles or host_vars.get("ansible_connection") == "local":
            skipped.append(host)
        else:
            hosts[host] = host_entry(host, roles, host_vars, source)
    if not hosts:
        raise InventoryImportError(f"{source}: no host is in a group stackdrill maps to a role "
                                   f"(such as control, compute, network, storage)")
    data: dict[str, Any] = {"profile": profile, "production": False,
                            "hosts": dict(sorted(hosts.items()))}
    clusters = derive_clusters(hosts)
    if clusters:
        data["clusters"] = clusters
    return Conversion(data, sorted(skipped), (source,))


def import_inventory(path: Path, *, profile: str | None = None, output: Path | None = None,
                     user_config: Path | None = None) -> Conversion:
    """Read the Ansible inventory at ``path`` and return a stackdrill inventory, validated.
    ``profile`` defaults to ``openstack-ansible`` for OpenStack-Ansible's inventory, else to
    ``packages``; ``user_config`` (its openstack_user_config.yml, or the directory holding it)
    defaults to the one beside ``path``."""
    inventory = read_ansible_inventory(path)
    if is_openstack_ansible(inventory):
        config_path = user_config if user_config is not None else user_config_beside(path)
        config = read_user_config(config_path) if config_path is not None else None
        conversion = convert_osa(inventory, config, profile=profile or OSA_PROFILE,
                                 source=str(path))
    elif user_config is not None:
        raise InventoryImportError(f"{path}: --user-config goes with OpenStack-Ansible's "
                                   f"openstack_inventory.json, and this is no such inventory")
    else:
        conversion = convert(inventory, profile=profile or DEFAULT_PROFILE, source=str(path))
    target = output if output is not None else path.with_name("stackdrill-inventory.yaml")
    parse_inventory(conversion.data, target)
    return conversion


def render(conversion: Conversion, source: Path) -> str:
    read = " and ".join(conversion.sources) if conversion.sources else str(source)
    header = f"# Imported from {read} by `stackdrill inventory import`.\n"
    return header + yaml.safe_dump(conversion.data, sort_keys=False)


def add_parser(sub: Any) -> None:
    """The ``inventory`` subcommand of the command line."""
    inventory = sub.add_parser("inventory", help="inventory tools")
    actions = inventory.add_subparsers(dest="inventory_action", required=True)
    imported = actions.add_parser("import", help="write a stackdrill inventory from an Ansible "
                                                 "inventory (INI, YAML or JSON, kolla-ansible's "
                                                 "multinode, OpenStack-Ansible's "
                                                 "openstack_inventory.json)")
    imported.add_argument("file", help="the Ansible inventory")
    imported.add_argument("--profile", default=None,
                          help=f"deployment profile for the inventory (default: {OSA_PROFILE} "
                               f"for openstack_inventory.json, else {DEFAULT_PROFILE})")
    imported.add_argument("--user-config", metavar="PATH",
                          help="OpenStack-Ansible's openstack_user_config.yml, or the directory "
                               "holding it and conf.d/ (default: the one beside the inventory)")
    imported.add_argument("-o", "--output", help="write here instead of to standard output")
    from stackdrill.inventory import devstack

    devstack.add_parser(actions)


def run(args: argparse.Namespace) -> int:
    if args.inventory_action == "devstack":
        from stackdrill.inventory import devstack

        return devstack.run(args)
    source = Path(args.file)
    output = Path(args.output) if args.output else None
    config = Path(args.user_config) if args.user_config else None
    conversion = import_inventory(source, profile=args.profile, output=output,
                                  user_config=config)
    for host in conversion.skipped:
        print(f"stackdrill: skipped {host}: no stackdrill role in its groups", file=sys.stderr)
    for note in conversion.notes:
        print(f"stackdrill: note: {note}", file=sys.stderr)
    text = render(conversion, source)
    if output is None:
        sys.stdout.write(text)
        return 0
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InventoryImportError(f"{output}: cannot write: {exc.strerror or exc}") from None
    print(f"inventory: {output} ({len(conversion.data['hosts'])} hosts)")
    return 0
