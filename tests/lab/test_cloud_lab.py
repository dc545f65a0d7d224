"""The lab cloud is a real OpenStack: the openstack CLI works against it, the probes see it,
and no password or token of it reaches a report."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml
from stackdrill.builtin.probes.nova_db import INSTANCES, NovaDatabase

from stackdrill.api._probe import CloudContext
from stackdrill.api._registry import load_registries
from stackdrill.cloud import guest_image
from stackdrill.cloud.access import CloudAccess, database
from stackdrill.cloud.canary import CanaryWorkload
from stackdrill.cloud.nova_cells import NOVA_CONF, read_cells, read_config
from stackdrill.engine.snapshot import take_snapshot
from stackdrill.hosts.target import Targets
from stackdrill.lab.cloud.layout import VENV
from stackdrill.lab.lab import Lab

ROOT = Path(__file__).resolve().parents[2]


def test_the_openstack_cli_lists_the_canaries(lab: Lab, canaries: CanaryWorkload,
                                              tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    result = subprocess.run([str(VENV / "bin/openstack"), "server", "list", "-f", "json"],
                            env={**env, "OS_CLOUD": "stackdrill-lab"}, cwd=tmp_path,
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    servers = {s["ID"]: s["Status"] for s in json.loads(result.stdout)}
    for server_id in canaries.servers.values():
        assert servers[server_id] == "ACTIVE"


def test_a_snapshot_sees_services_servers_rows_and_agreement(
        targets: Targets, cloud_access: CloudAccess, canaries: CanaryWorkload) -> None:
    probes = [cls() for name in load_registries().probes
              for cls in [load_registries().probes.get(name)]]
    health: dict[str, str] = {}
    snap = take_snapshot(targets, probes, health, CloudContext(cloud_access, targets))
    assert snap.errors == {}
    assert health == {}
    values = snap.values
    for host, server_id in canaries.servers.items():
        name = f"stackdrill-canary-{host}"
        assert values[f"cloud/server:{name}/status"] == "ACTIVE"
        assert values[f"cloud/server:{name}/host"] == host
        assert values[f"cloud/db:instance:{name}/host"] == host
        assert values[f"cloud/db:instance:{name}/vm_state"] == "active"
        assert values[f"cloud/service:nova-compute@{host}/status"] == "enabled"
        assert values[f"cloud/agreement:{host}/nova_only"] == []
        assert values[f"host:{host}/amqp:nova-compute/connected"] is True
        assert server_id
    assert values["host:controller/unit:nova-api/active"] == "active"
    for image in (guest_image.MACHINE, guest_image.KERNEL, guest_image.RAMDISK):
        assert values[f"cloud/image:{image}/status"] == "active"


def test_no_password_or_token_reaches_the_reports(lab: Lab, canaries: CanaryWorkload,
                                                   tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    result = subprocess.run(
        [sys.executable, "-m", "stackdrill.cli", "run", "features/control_plane", "--lab",
         "--reports", str(reports), "--journal", str(tmp_path / "journal.jsonl"),
         "--history", str(tmp_path / "history.jsonl"), "--",
         "-k", "database", "-q", "-p", "no:cacheprovider"],
        cwd=ROOT, capture_output=True, text=True, timeout=900, check=False)
    assert result.returncode == 0, result.stdout[-3000:]
    # every file the run wrote: Allure results and attachments, JUnit, the drill report, history
    files = [f for f in reports.rglob("*") if f.is_file()] + [tmp_path / "history.jsonl"]
    assert {"junit.xml", "drills.html", "history.jsonl"} <= {f.name for f in files}
    texts = [f.read_text(errors="replace") for f in files] + [result.stdout, result.stderr]
    # the evidence holds the hosts' command output (systemctl, mysqlcheck, mysql)
    assert any("[controller] $ systemctl " in text for text in texts)
    assert any("[controller] $ mysqlcheck " in text for text in texts)
    for name, password in lab_secrets(lab).items():
        assert password, name
        assert not any(password in text for text in texts), f"the {name} password leaked"
    assert not any("gAAAAA" in text for text in texts), "a Fernet token leaked"


def test_nova_db_finds_the_labs_one_cell_as_nova_does(
        targets: Targets, cloud_access: CloudAccess, canaries: CanaryWorkload) -> None:
    """The probe reads the canaries through the API database's ``cell_mappings``: the lab maps
    one cell besides cell0, ``cell1``, to the database nova.conf's ``[database]`` names, so the
    probe records exactly what a read of that section gives (what it recorded before it
    looked for cells)."""
    controller = targets.with_role("controller")[0]
    config = read_config(controller, "nova-api", NOVA_CONF)
    cells = read_cells(config, cloud_access.redactor)
    direct = config.dsn("database")
    assert [(cell.name, cell.dsn.host, cell.dsn.database) for cell in cells] == [
        ("cell1", direct.host, direct.database)]
    with database(direct, cloud_access.redactor) as conn, conn.cursor() as cur:
        cur.execute(INSTANCES)
        rows = list(cur.fetchall())
    expected = {f"db:instance:{row['display_name']}/{column}": row[column] for row in rows
                for column in ("host", "vm_state", "power_state", "task_state")}
    values = NovaDatabase().observe_cloud(CloudContext(cloud_access, targets))
    assert {k: v for k, v in values.items() if k.startswith("db:instance:")} == expected
    for host in canaries.servers:
        assert values[f"db:instance:stackdrill-canary-{host}/vm_state"] == "active"
    assert not any(direct.password in str(value) for value in values.values())


def lab_secrets(lab: Lab) -> dict[str, str]:
    """Every value of the lab's secrets.json, and each cloud's password in its clouds.yaml."""
    found = {name: str(value) for name, value in
             json.loads((lab.paths.root / "secrets.json").read_text()).items()}
    clouds = yaml.safe_load((lab.paths.root / "clouds.yaml").read_text())["clouds"]
    for cloud, entry in clouds.items():
        found[f"clouds.yaml {cloud}"] = str(entry["auth"]["password"])
    return found
