"""``stackdrill profile verify``: whether every host runs the services its roles need, under the
names the inventory and its deployment profile give them (the checks are
:mod:`stackdrill.hosts.profile_verify`'s). One line per checked service per host, a summary;
exit 0 when all match, 1 on any mismatch or a host not reached, 2 on bad input."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from stackdrill.cli.exits import EXIT_FAILED, EXIT_OK, CliError


def add_parser(sub: Any) -> None:
    """The ``profile`` subcommand of the command line."""
    profile = sub.add_parser("profile", help="deployment profile tools")
    actions = profile.add_subparsers(dest="profile_action", required=True)
    add_verify_parser(actions)


def add_verify_parser(actions: Any) -> None:
    """``stackdrill profile verify [--inventory F | --lab]``."""
    verify = actions.add_parser(
        "verify", help="check over SSH that every host runs the services its roles need "
                       "(units, containers, units in LXC containers) under the names the "
                       "inventory and its profile give them; name Kolla's wrapping units and "
                       "units renamed since (devstack@q-svc and devstack@neutron-api), with "
                       "what to fix; exit 1 on a mismatch")
    where = verify.add_mutually_exclusive_group()
    where.add_argument("--inventory", default=os.environ.get("STACKDRILL_INVENTORY"),
                       help="inventory file of the cloud's hosts (default: "
                            "$STACKDRILL_INVENTORY)")
    where.add_argument("--lab", action="store_true", help="the embedded lab's inventory")


def _inventory_path(args: argparse.Namespace) -> Path:
    """The inventory ``--lab`` or ``--inventory`` names; the lab is not brought up."""
    if args.lab:
        from stackdrill.lab.topology import LabPaths

        path = LabPaths.default().inventory
        if not path.is_file():
            raise CliError(f"lab: no inventory at {path}; the lab is not up (stackdrill lab up)")
        return path
    if not args.inventory:
        raise CliError("profile verify needs an inventory: pass --inventory FILE or --lab")
    return Path(args.inventory)


def run(args: argparse.Namespace) -> int:
    """Check every host and print each line, secrets redacted; EXIT_FAILED on a mismatch."""
    from stackdrill.hosts.profile_verify import verify_profile
    from stackdrill.hosts.secrets import inventory_redactor
    from stackdrill.hosts.target import Targets
    from stackdrill.inventory.loader import load_inventory

    inventory = load_inventory(_inventory_path(args))
    redactor = inventory_redactor(inventory)
    targets = Targets(inventory)
    try:
        verification = verify_profile(targets)
    finally:
        targets.close()
    for line in verification.lines():
        print(redactor(line), flush=True)
    return EXIT_OK if verification.matches else EXIT_FAILED
