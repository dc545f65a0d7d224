"""Writes the stackdrill inventory of a single DevStack node: this host, reached over SSH on
loopback, with the controller and compute roles and the devstack profile."""

from __future__ import annotations

import argparse
import os
import pathlib
import subprocess

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--user", default="root")
parser.add_argument("--key", default="~/.ssh/id_rsa")
parser.add_argument("--output", default="devstack-inventory.yaml")
args = parser.parse_args()

key = pathlib.Path(args.key).expanduser()
if not key.exists():
    subprocess.run(["ssh-keygen", "-q", "-t", "rsa", "-N", "", "-f", str(key)], check=True)
# faults run systemctl and kill: the drills log in as root (key only, as sshd allows by default)
authorized = pathlib.Path(f"~{args.user}/.ssh/authorized_keys").expanduser()
authorized.parent.mkdir(mode=0o700, exist_ok=True)
public = key.with_suffix(".pub").read_text()
if public not in (authorized.read_text() if authorized.exists() else ""):
    with authorized.open("a") as handle:
        handle.write(public)
known_hosts = pathlib.Path(args.output).with_name("devstack-known_hosts").absolute()
scan = subprocess.run(["ssh-keyscan", "-H", "127.0.0.1"], check=True, capture_output=True,
                      text=True)
known_hosts.write_text(scan.stdout)
pathlib.Path(args.output).write_text(f"""\
# A single-node DevStack, written by playbooks/devstack-drills/write_inventory.py.
cloud: devstack-admin
production: false
profile: devstack
defaults:
  ssh:
    user: {args.user}
    key: {key}
    known_hosts: {known_hosts}
hosts:
  {os.uname().nodename.split('.')[0]}:
    address: 127.0.0.1
    roles: [controller, compute]
""")
