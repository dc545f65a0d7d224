"""API snapshot at scale: stackdrill's cloud probes against the openstack CLI, on a cloud with
1,000 and 10,000 servers and volumes (the main lab with a scale-only fake-driver compute).

    python benchmarks/api_snapshot.py --populate 1000     # ensure 1,000 of each, then measure
    python benchmarks/api_snapshot.py                     # measure only
    python benchmarks/api_snapshot.py --populate 10 --clone 10000   # 10,000 of each, by SQL
    python benchmarks/api_snapshot.py --cli-runs 1          # the CLI once (minutes at 10,000)
    python benchmarks/api_snapshot.py --cleanup           # delete sdbench-* and the fake compute

``--populate N`` starts a scale-only nova-compute with Nova's fake driver on the lab's
controller (host ``sdbench-fake``, a transient systemd unit; Nova's own ``fake.FakeDriver``,
which keeps instances in memory), lifts the project's compute and volume quotas, and creates
servers (``sdbench-*``, in batches with min/max count, placed on the fake host) and 1 GiB
volumes (the lab's own Cinder backend: sparse files) up to N each. The lab's real computes and
canaries are left alone. Each side is timed over three runs: stackdrill's ``cloud_api`` probe
(the lists in pages of 1000, concurrently) and ``nova_db`` probe (one query per table), against
the openstack CLI listing every server and every volume once (``CLI_COMMANDS``). Writes
benchmarks/results/api_snapshot_<N>.json and .md, with the date, the commit and the machine.

What each CLI command fetches (python-openstackclient 10.5, the lab's):

- ``server list --all-projects --long --no-name-lookup``: every page of ``/servers/detail``
  (all projects), nothing else. ``--long`` only adds columns; without ``--no-name-lookup`` it
  would also query Glance for the servers' images (and, before microversion 2.47, list the
  flavors), which stackdrill does not do to list servers.
- ``volume list --all-projects --long``: every page of ``/volumes/detail`` (all projects), and,
  whenever one listed volume is ``in-use``, every server of the current project (``/servers/
  detail`` again, as openstacksdk objects) to print the attachments' server names. ``--long``
  only adds columns; no option turns that second server listing off, and the lab's canary
  volumes are attached. stackdrill records attachments by server ID and lists the servers
  once.

That second listing is measured alone (``conn.compute.servers()``, the call the CLI makes,
through openstacksdk in this process) and reported beside the CLI's time, with the CLI's time
less it as the estimate of the CLI doing the same listings as stackdrill.

Both sides are timed cold and, where they can be, warm. stackdrill *cold*: a new
``CloudAccess`` for every run, so each worker authenticates and opens its connections again;
*warm*: the same ``CloudAccess`` as the run before, its tokens and connections reused (as
between the snapshots of one drill). The CLI is cold only: each command is a new process that
starts Python, loads the client and authenticates; it keeps nothing between runs.

``--clone N`` reaches N of each where the fake compute is too slow to build them (about one
server every 7 s on a 2-CPU machine): it copies the database rows of one ACTIVE server the API
built (``instances``, ``instance_extra``, ``instance_info_caches``,
``instance_system_metadata``, and its ``nova_api.instance_mappings`` row) and of one available
volume (``cinder.volumes``), with MariaDB's sequence engine, one ``INSERT ... SELECT`` per table.
The clones are ``sdbench-clone-<n>`` with UUIDs ``5dbe000{0,1}-0000-4000-8000-<n>`` on the host
``sdbench-clone``, which no nova-compute runs: no service ever acts on them, and the APIs list
them as they list any server and volume. ``--cleanup`` deletes the clones' rows first.

Beside the full snapshot the comparison times (``measure_repolls``, unless ``--no-repolls``):

- the floor: the raw pages of ``/servers/detail`` and ``/volumes/detail`` fetched
  concurrently, JSON-decoded and nothing more, as ``cloud_api`` fetches them;
- the re-poll a drill makes between its boundaries (``cloud_api`` and ``cloud_images`` with
  ``boundary=False``: servers by ``changes-since``, volumes by ``updated_at``, merged into a
  full listing kept just before), with nothing changed, and with 1 % of the sdbench servers and
  volumes changed: their ``updated_at`` moved to now in SQL (``touch_sql``), as a save by their
  service would, after a fresh full listing and at least the re-polls' margin after the
  previous change, so that each re-poll returns that 1 % and no more. How each list was read
  (re-polled, or listed in full and why) is kept in the results;
- the openstack CLI doing the same single listing: its ``volume list`` with the compute
  endpoint pointed at a path Keystone answers 404 (``compute_endpoint_override`` in a
  ``secure.yaml`` of its own, merged into the clouds.yaml entry, so no credential is copied),
  which python-openstackclient takes for "no servers" and lists no server to name the
  attachments. One more run with ``--debug``, not timed, must show the volumes listed and no
  request sent to the compute endpoint, or the result says the single listing was not
  verified (the output cannot show it: ``-f value`` prints the attachments as raw data).

``--breakdown`` says where the snapshot's time goes, each part alone (median of three): the
services answering the pages (the raw HTTP pages of ``/servers/detail`` and
``/volumes/detail``, JSON-decoded and nothing more), openstacksdk turning the same pages into
its resource objects (the SDK's list calls), and the database probe's queries; then what a
re-poll asks, with nothing changed (``changes-since``, ``updated_at=gte:``), Cinder's volume
count (``/volumes/summary``, how a re-poll finds a deleted volume) and its ID-only listing
(``/volumes``, the alternative: it runs the same joined query as the detail listing). Writes
benchmarks/results/api_breakdown_<N>.json and .md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import yaml
from provenance import header, provenance
from stackdrill.builtin.probes.cloud_api import PAGE, VOLUME_CHANGES, CloudApi, json_pages
from stackdrill.builtin.probes.cloud_images import CloudImages
from stackdrill.builtin.probes.nova_db import NovaDatabase

from stackdrill.api._probe import CloudContext, run_calls
from stackdrill.cloud.access import CloudAccess, CloudError
from stackdrill.cloud.canary import image_and_flavor
from stackdrill.cloud.listings import MARGIN, Listings, iso
from stackdrill.core.waiting import WaitTimeout, poll
from stackdrill.engine.snapshot import take_snapshot
from stackdrill.hosts.ssh import HostError
from stackdrill.hosts.target import Target, Targets
from stackdrill.inventory.loader import load_inventory
from stackdrill.inventory.model import InventoryError

RESULTS = Path(__file__).resolve().parent / "results"
PREFIX = "sdbench-"
FAKE_HOST = "sdbench-fake"
FAKE_UNIT = "sdbench-fake-compute"
FAKE_CONF = "/etc/nova/nova-sdbench.conf"
NOVA_BIN = "/opt/stackdrill-lab/openstack/bin"
OPENSTACK = shutil.which("openstack") or f"{NOVA_BIN}/openstack"
BATCH = 100
CLONE_HOST = "sdbench-clone"
# Clone n of a server has the UUID SERVER_CLONE + n (12 digits), clone n of a volume VOLUME_CLONE.
SERVER_CLONE, VOLUME_CLONE = "5dbe0000-0000-4000-8000-", "5dbe0001-0000-4000-8000-"
# (schema, table, the column naming the server) of every row a server clone copies.
SERVER_TABLES = (("nova", "instances", "uuid"), ("nova", "instance_extra", "instance_uuid"),
                 ("nova", "instance_info_caches", "instance_uuid"),
                 ("nova", "instance_system_metadata", "instance_uuid"),
                 ("nova_api", "instance_mappings", "instance_uuid"))
RUNS = 3
# The openstack CLI listing every server and every volume once (see the module's docstring for
# what each fetches); ``volume list`` adds a listing of the project's servers when a volume is
# in use, measured alone as EXTRA_SERVER_LISTING.
CLI_COMMANDS: dict[str, list[str]] = {
    "servers": ["server", "list", "--all-projects", "--long", "--no-name-lookup", "-f", "value"],
    "volumes": ["volume", "list", "--all-projects", "--long", "-f", "value"],
}
EXTRA_SERVER_LISTING = "volume list: the project's servers, to name attachments"
# Nova's fake driver reports 1000 vCPUs, 800 GB of RAM and 600 TB of disk; 16:1 on the vCPUs
# leaves room for 10,000 single-vCPU servers of 64 MB.
FAKE_CONF_TEXT = f"""[DEFAULT]
host = {FAKE_HOST}
compute_driver = fake.FakeDriver
initial_cpu_allocation_ratio = 16.0
state_path = /var/lib/nova-sdbench

[oslo_concurrency]
lock_path = /var/lib/nova-sdbench/tmp
"""


def _timed(call: Callable[[], Any], runs: int = RUNS) -> list[float]:
    times = []
    for _ in range(runs):
        clock = time.monotonic()
        call()
        times.append(time.monotonic() - clock)
    return times


def _fake_services(conn: Any) -> list[Any]:
    return list(conn.compute.services(binary="nova-compute", host=FAKE_HOST))


def start_fake_compute(conn: Any, controller: Target) -> None:
    """The scale-only compute: Nova's fake driver beside the controller's services."""
    controller.run(f"mkdir -p /var/lib/nova-sdbench/tmp && cat > {FAKE_CONF} <<'EOF'\n"
                   f"{FAKE_CONF_TEXT}EOF\n"
                   f"systemctl is-active -q {FAKE_UNIT} || systemd-run --unit={FAKE_UNIT} "
                   f"{NOVA_BIN}/nova-compute --config-file /etc/nova/nova.conf "
                   f"--config-file {FAKE_CONF}", check=True)

    def registered() -> bool:
        services = _fake_services(conn)
        if not services or services[0].state != "up":
            return False
        controller.run(f"{NOVA_BIN}/nova-manage cell_v2 discover_hosts", check=True,
                       timeout=120)
        return any(h.name == FAKE_HOST for h in conn.compute.hypervisors())

    poll(registered, timeout=180, interval=3.0, description=f"{FAKE_HOST} up and discovered",
         ignore=(CloudError,))


def stop_fake_compute(conn: Any, controller: Target) -> None:
    controller.run(f"systemctl stop {FAKE_UNIT}; systemctl reset-failed {FAKE_UNIT}; "
                   f"rm -f {FAKE_CONF}; rm -rf /var/lib/nova-sdbench")
    for service in _fake_services(conn):
        conn.compute.delete_service(service)


def lift_quotas(conn: Any) -> None:
    project = conn.current_project_id
    conn.set_compute_quotas(project, instances=-1, cores=-1, ram=-1)
    conn.set_volume_quotas(project, volumes=-1, gigabytes=-1)


def populate(conn: Any, count: int) -> None:
    image, flavor = image_and_flavor(conn)
    have = sum(1 for _ in conn.compute.servers(name=f"^{PREFIX}"))
    while have < count:
        batch = min(BATCH, count - have)
        conn.compute.create_server(name=f"{PREFIX}{have}", flavor_id=flavor.id,
                                   image_id=image.id, networks="none", min_count=batch,
                                   max_count=batch, availability_zone=f"nova:{FAKE_HOST}")
        have += batch
        print(f"servers requested: {have}/{count}", flush=True)
    volumes = sum(1 for v in conn.block_storage.volumes() if (v.name or "").startswith(PREFIX))
    for index in range(volumes, count):
        conn.block_storage.create_volume(name=f"{PREFIX}{index}", size=1)
        if (index + 1) % BATCH == 0:
            print(f"volumes requested: {index + 1}/{count}", flush=True)

    def settled() -> bool:
        servers = [s.status for s in conn.compute.servers(name=f"^{PREFIX}")]
        volumes = [v.status for v in conn.block_storage.volumes()
                   if (v.name or "").startswith(PREFIX)]
        busy = sum(1 for st in servers if st not in ("ACTIVE", "ERROR")) + sum(
            1 for st in volumes if st not in ("available", "error"))
        print(f"still building: {busy}", flush=True)
        return busy == 0

    poll(settled, timeout=3600, interval=10.0, max_interval=30.0,
         description="every sdbench server ACTIVE and volume available")


def clone_sql(schema: str, table: str, columns: list[str], key: str, source: str,
              first: int, last: int, prefix: str, changes: dict[str, str]) -> str:
    """One ``INSERT ... SELECT`` that copies the rows of ``source`` (where ``key`` names it) as
    clones ``first`` to ``last``: ``key`` becomes ``prefix`` + the clone's number on 12 digits,
    each column of ``changes`` the SQL expression given (``seq`` is the clone's number); an
    auto-increment ``id`` (any ``id`` that is not the key) is left to the table."""
    kept = [c for c in columns if c != "id" or c == key]
    values = {c: f"`{c}`" for c in kept}
    values[key] = f"CONCAT('{prefix}', LPAD(seq, 12, '0'))"
    values.update(changes)
    names = ", ".join(f"`{c}`" for c in kept)
    chosen = ", ".join(values[c] for c in kept)
    return (f"INSERT INTO {schema}.{table} ({names}) SELECT {chosen} "  # noqa: S608
            f"FROM {schema}.{table} JOIN seq_{first}_to_{last} "
            f"WHERE `{key}` = '{source}'{' AND deleted = 0' if 'deleted' in columns else ''};")


def _columns(controller: Target, schema: str, table: str) -> list[str]:
    query = ("SELECT column_name FROM information_schema.columns WHERE "  # noqa: S608
             f"table_schema='{schema}' AND table_name='{table}' ORDER BY ordinal_position")
    listed = controller.run(f'mysql -N -e "{query}"', check=True, record=False).stdout
    return listed.split()


def _sql(controller: Target, statements: list[str]) -> str:
    script = "\n".join(statements)
    # The sequence engine's seq_<a>_to_<b> tables need a current database; any one will do.
    return controller.run(f"mysql -N nova <<'SQL'\n{script}\nSQL", check=True, record=False,
                          timeout=900).stdout


def clone(conn: Any, controller: Target, count: int) -> None:
    """Up to ``count`` servers and volumes named sdbench-*, the missing ones cloned in SQL from
    one ACTIVE server and one available volume the API built."""
    server = next((s for s in conn.compute.servers(name=f"^{PREFIX}")
                   if s.status == "ACTIVE" and not s.name.startswith(f"{PREFIX}clone")), None)
    volume = next((v for v in conn.block_storage.volumes()
                   if (v.name or "").startswith(PREFIX) and v.status == "available"), None)
    if server is None or volume is None:
        raise CloudError("--clone needs one ACTIVE sdbench server and one available sdbench "
                         "volume to copy: run with --populate 1 first")
    servers = sum(1 for _ in conn.compute.servers(name=f"^{PREFIX}"))
    volumes = sum(1 for v in conn.block_storage.volumes() if (v.name or "").startswith(PREFIX))
    name = f"CONCAT('{PREFIX}clone-', seq)"
    if servers < count:
        first = _next_clone(controller, "nova", "instances", "uuid", SERVER_CLONE)
        last = first + count - servers - 1
        statements = []
        for schema, table, key in SERVER_TABLES:
            changes = ({"display_name": name, "hostname": name, "host": f"'{CLONE_HOST}'",
                        "node": f"'{CLONE_HOST}'", "created_at": "NOW()"}
                       if table == "instances" else {"created_at": "NOW()"})
            statements.append(clone_sql(schema, table, _columns(controller, schema, table),
                                        key, server.id, first, last, SERVER_CLONE, changes))
        _sql(controller, statements)
        print(f"servers cloned: {last - first + 1} ({servers} -> {count})", flush=True)
    if volumes < count:
        first = _next_clone(controller, "cinder", "volumes", "id", VOLUME_CLONE)
        last = first + count - volumes - 1
        changes = {"display_name": name, "host": f"'{CLONE_HOST}'", "created_at": "NOW()"}
        _sql(controller, [clone_sql("cinder", "volumes",
                                    _columns(controller, "cinder", "volumes"), "id", volume.id,
                                    first, last, VOLUME_CLONE, changes)])
        print(f"volumes cloned: {last - first + 1} ({volumes} -> {count})", flush=True)


def _next_clone(controller: Target, schema: str, table: str, key: str, prefix: str) -> int:
    found = _sql(controller, [f"SELECT COUNT(*) FROM {schema}.{table} "  # noqa: S608
                              f"WHERE `{key}` LIKE '{prefix}%';"])
    return int(found.split()[0]) + 1


def delete_clones(controller: Target) -> None:
    statements = [f"DELETE FROM {schema}.{table} WHERE `{key}` LIKE '{SERVER_CLONE}%';"  # noqa: S608
                  for schema, table, key in reversed(SERVER_TABLES)]
    statements.append(f"DELETE FROM cinder.volumes WHERE id LIKE '{VOLUME_CLONE}%';")  # noqa: S608
    _sql(controller, statements)


def cleanup(conn: Any) -> None:
    for server in conn.compute.servers(name=f"^{PREFIX}"):
        conn.compute.delete_server(server)
    for volume in conn.block_storage.volumes():
        if (volume.name or "").startswith(PREFIX):
            conn.block_storage.delete_volume(volume)
    poll(lambda: not any(True for _ in conn.compute.servers(name=f"^{PREFIX}")) and not any(
        (v.name or "").startswith(PREFIX) for v in conn.block_storage.volumes()),
        timeout=3600, interval=10.0, description="every sdbench server and volume deleted")
    project = conn.current_project_id
    conn.delete_compute_quotas(project)
    conn.delete_volume_quotas(project)


def cli_command(cloud: str, kind: str) -> list[str]:
    return [OPENSTACK, "--os-cloud", cloud, *CLI_COMMANDS[kind]]


Runner = Callable[[list[str]], object]


def _run_cli(command: list[str]) -> object:
    return subprocess.run(command, check=True, capture_output=True)


def time_cli(cloud: str, run: Runner = _run_cli, runs: int = RUNS) -> dict[str, list[float]]:
    """Each CLI command, ``runs`` times: the times of each, and of both together per run."""
    times: dict[str, list[float]] = {kind: [] for kind in CLI_COMMANDS}
    for _ in range(runs):
        for kind in CLI_COMMANDS:
            clock = time.monotonic()
            run(cli_command(cloud, kind))
            times[kind].append(time.monotonic() - clock)
    times["total"] = [sum(each) for each in zip(*(times[kind] for kind in CLI_COMMANDS),
                                                strict=True)]
    return times


def _count(snapshot_values: Mapping[str, Any], kind: str, status: str | None = None) -> int:
    return sum(1 for path, value in snapshot_values.items()
               if path.startswith(f"cloud/{kind}:") and path.endswith("/status")
               and (status is None or value == status))


def measure(access: CloudAccess, targets: Targets, cloud: str,
            run: Runner = _run_cli, cli_runs: int = RUNS) -> dict[str, Any]:
    context = CloudContext(access, targets)
    probes = [CloudApi(), CloudImages(), NovaDatabase()]
    snap = take_snapshot([], probes, cloud=context)
    if snap.errors:
        raise CloudError(f"cloud probes failed: {next(iter(snap.errors.values()))}")
    conn = access.connection()
    in_use = _count(snap.values, "volume", "in-use")
    results: dict[str, Any] = {
        "servers": _count(snap.values, "server"), "volumes": _count(snap.values, "volume"),
        "volumes_in_use": in_use,
        "project_servers": sum(1 for _ in conn.compute.servers()),
        "cli_commands": {kind: CLI_COMMANDS[kind] for kind in CLI_COMMANDS},
        "cli_runs": cli_runs}
    results["stackdrill"] = _timed(lambda: take_snapshot([], probes, cloud=context))
    results["stackdrill_api_only"] = _timed(
        lambda: take_snapshot([], [CloudApi(), CloudImages()], cloud=context))

    def cold() -> None:
        fresh = CloudContext(CloudAccess(cloud, config_files=access.config_files), targets)
        take_snapshot([], probes, cloud=fresh)

    results["stackdrill_cold"] = _timed(cold)
    cli = time_cli(cloud, run, cli_runs)
    results["openstack_cli"] = cli["total"]
    results["openstack_cli_servers"] = cli["servers"]
    results["openstack_cli_volumes"] = cli["volumes"]
    # The CLI's volume list lists the project's servers only when a volume is in use.
    results["cli_extra_server_listing"] = (
        _timed(lambda: sum(1 for _ in conn.compute.servers()), cli_runs) if in_use
        else [0.0] * cli_runs)
    return results


def raw_pages(proxy: Any, path: str, key: str, **query: Any) -> int:
    """Every page of ``path`` (all projects), JSON-decoded only, as ``cloud_api`` reads it; the
    count."""
    return sum(1 for _ in json_pages(proxy, path, key, all_tenants=1, **query))


def _now() -> str:
    return iso(datetime.now(UTC))


def _volume_changes_now(conn: Any) -> int:
    """What a re-poll asks Cinder when nothing changed (one page at microversion 3.60)."""
    response = conn.block_storage.get("/volumes/detail", microversion=VOLUME_CHANGES, params={
        "all_tenants": 1, "limit": PAGE, "updated_at": f"gte:{_now()}"})
    return len(response.json()["volumes"])


def raw_floor(access: CloudAccess) -> object:
    """Both lists' raw pages, concurrently (each on its worker's own connection), as
    ``cloud_api`` fetches them: the floor of a full listing."""
    return run_calls({
        "servers": lambda: raw_pages(access.connection().compute, "/servers/detail", "servers"),
        "volumes": lambda: raw_pages(access.connection().block_storage, "/volumes/detail",
                                     "volumes")})


API_PROBES = (CloudApi, CloudImages)
"""The probes a re-poll is timed with: those of the "API probes only" column."""


def listed(access: CloudAccess, targets: Targets) -> CloudContext:
    """A drill's context after a boundary: servers and volumes listed in full and kept."""
    context = CloudContext(access, targets, Listings())
    take_snapshot([], [probe() for probe in API_PROBES], cloud=context)
    return context


def repoll(context: CloudContext) -> None:
    """A snapshot between a drill's boundaries: servers and volumes re-polled."""
    take_snapshot([], [probe() for probe in API_PROBES], cloud=context, boundary=False)


def touch_sql(count: int) -> list[str]:
    """``updated_at`` of ``count`` sdbench servers and of ``count`` sdbench volumes, chosen at
    random, moved to now, as a save by their service would move it."""
    return [f"UPDATE {table} SET updated_at = UTC_TIMESTAMP() WHERE deleted = 0 "  # noqa: S608
            f"AND display_name LIKE '{PREFIX}%' ORDER BY RAND() LIMIT {count};"
            for table in ("nova.instances", "cinder.volumes")]


def _margin_since(moment: float) -> None:
    """Wait until the re-polls' margin has passed since ``moment`` (monotonic), so that a
    change made then is no longer returned."""
    wanted = MARGIN.total_seconds() + 1.0
    poll(lambda: time.monotonic() - moment >= wanted, timeout=wanted + 5.0, interval=0.5,
         description="the re-polls' margin passed since the last change")


def measure_repolls(access: CloudAccess, targets: Targets, controller: Target,
                    servers: int, volumes: int) -> dict[str, Any]:
    """The floor, then the re-poll with nothing changed and with 1 % changed (see the module's
    docstring), ``RUNS`` times each, and how each re-poll read each list."""
    results: dict[str, Any] = {"raw_pages": _timed(partial(raw_floor, access))}
    context = listed(access, targets)
    results["repoll_unchanged"] = _timed(partial(repoll, context))
    results["repoll_unchanged_ways"] = context.listings.report() if context.listings else ""
    changed = max(1, round(min(servers, volumes) / 100))
    times, ways, touched = [], [], float("-inf")
    for _ in range(RUNS):
        _margin_since(touched)
        context = listed(access, targets)
        _sql(controller, touch_sql(changed))
        touched = clock = time.monotonic()
        repoll(context)
        times.append(time.monotonic() - clock)
        ways.append(context.listings.report() if context.listings else "")
    results.update({"repoll_changed": times, "repoll_changed_each": changed,
                    "repoll_changed_ways": ways})
    return results


NO_COMPUTE = "stackdrill-benchmark-no-compute"
"""The path under Keystone's endpoint the CLI's compute endpoint is pointed at: Keystone
answers 404, python-openstackclient catches it and names no attachment's server."""


def no_compute_secure_file(cloud: str, identity_endpoint: str, directory: Path) -> Path:
    """A ``secure.yaml`` that points ``cloud``'s compute endpoint at :data:`NO_COMPUTE`;
    openstacksdk merges it into the clouds.yaml entry (no credential in it)."""
    path = directory / "secure.yaml"
    override = f"{identity_endpoint.rstrip('/')}/{NO_COMPUTE}"
    path.write_text(yaml.safe_dump({"clouds": {cloud: {"compute_endpoint_override": override}}}))
    return path


OutputRunner = Callable[[list[str], Mapping[str, str]], str]


def _cli_output(command: list[str], env: Mapping[str, str]) -> str:
    return subprocess.run(command, check=True, capture_output=True, text=True,
                          env={**os.environ, **env}).stdout


def _cli_debug(command: list[str], env: Mapping[str, str]) -> str:
    """What the command logs with ``--debug`` (every request it sends), and its output."""
    ran = subprocess.run([*command, "--debug"], check=True, capture_output=True, text=True,
                         env={**os.environ, **env})
    return ran.stderr + ran.stdout


def listed_no_server(debug_log: str, compute_endpoint: str) -> bool:
    """Whether a ``--debug`` log of ``volume list`` shows the volumes listed and no request sent
    to the compute endpoint (its server listing went to :data:`NO_COMPUTE`, or was not made
    because no volume was in use). Its output cannot say: ``-f value`` prints the attachments
    as raw data, never a server's name."""
    sent = [line for line in debug_log.splitlines() if line.startswith("REQ: curl")]
    compute = compute_endpoint.rstrip("/")
    return any("/volumes/detail" in line for line in sent) and \
        not any(f"{compute}/" in line or line.endswith(compute) for line in sent)


def measure_cli_single(access: CloudAccess, cloud: str, run: OutputRunner = _cli_output,
                       debug: OutputRunner = _cli_debug, runs: int = RUNS) -> dict[str, Any]:
    """The CLI's ``volume list`` without its server listing, ``runs`` times, then once more
    with ``--debug`` (not timed) to prove it sent no request to the compute endpoint."""
    conn = access.connection()
    endpoint = str(conn.endpoint_for("identity"))
    times = []
    with tempfile.TemporaryDirectory(prefix="sdbench-cli-") as directory:
        env = {"OS_CLIENT_SECURE_FILE": str(no_compute_secure_file(cloud, endpoint,
                                                                   Path(directory)))}
        for _ in range(runs):
            clock = time.monotonic()
            run(cli_command(cloud, "volumes"), env)
            times.append(time.monotonic() - clock)
        log = debug(cli_command(cloud, "volumes"), env)
    return {"openstack_cli_volumes_single": times,
            "cli_single_listing_verified": listed_no_server(
                log, str(conn.endpoint_for("compute")))}


def breakdown(access: CloudAccess, targets: Targets) -> dict[str, Any]:
    """Each part of the snapshot alone: the services' pages, the SDK's objects, the database."""
    conn = access.connection()
    context = CloudContext(access, targets)
    parts: dict[str, Callable[[], Any]] = {
        "nova: /servers/detail pages (HTTP + JSON)":
            lambda: raw_pages(conn.compute, "/servers/detail", "servers"),
        "openstacksdk: compute.servers(details=True)":
            lambda: sum(1 for _ in conn.compute.servers(details=True, all_projects=True,
                                                       limit=PAGE)),
        "cinder: /volumes/detail pages (HTTP + JSON)":
            lambda: raw_pages(conn.block_storage, "/volumes/detail", "volumes"),
        "openstacksdk: block_storage.volumes(details=True)":
            lambda: sum(1 for _ in conn.block_storage.volumes(details=True, all_projects=True,
                                                             limit=PAGE)),
        "cloud_api and cloud_images probes (all their lists, concurrently)":
            lambda: take_snapshot([], [CloudApi(), CloudImages()], cloud=context),
        "nova_db probe": lambda: take_snapshot([], [NovaDatabase()], cloud=context),
        "nova: /servers/detail?changes-since=now (what a re-poll asks, nothing changed)":
            lambda: raw_pages(conn.compute, "/servers/detail", "servers",
                              **{"changes-since": _now()}),
        "cinder: /volumes/detail?updated_at=gte:now (what a re-poll asks, nothing changed)":
            lambda: _volume_changes_now(conn),
        "cinder: /volumes/summary (the count a re-poll checks for deleted volumes)":
            lambda: conn.block_storage.get("/volumes/summary", params={"all_tenants": 1},
                                           microversion=VOLUME_CHANGES).json(),
        "cinder: /volumes pages (IDs and names only: the alternative to the count)":
            lambda: raw_pages(conn.block_storage, "/volumes", "volumes"),
    }
    results: dict[str, Any] = {
        **provenance(),
        "servers": raw_pages(conn.compute, "/servers/detail", "servers"),
        "volumes": raw_pages(conn.block_storage, "/volumes/detail", "volumes"),
        "parts": {name: _timed(call) for name, call in parts.items()}}
    return results


def breakdown_table(results: dict[str, Any]) -> str:
    rows = [f"| {name} | {statistics.median(times):.2f} s |"
            for name, times in results["parts"].items()]
    return "\n".join([
        *header(results, f"API snapshot breakdown, {results['servers']} servers and "
                         f"{results['volumes']} volumes", {}),
        f"Each part alone, median of {RUNS}.", "", "| part | time |", "|---|---|", *rows, ""])


def _median(results: dict[str, Any], key: str) -> float:
    return float(statistics.median(results[key]))


def _ratio(other: float, stackdrill: float) -> str:
    return f"{other / stackdrill:.1f}x" if stackdrill > 0 else "n/a"


def table(results: dict[str, Any]) -> str:
    """The comparison as Markdown: provenance, what each side does, medians and the cold/cold
    ratio against the CLI doing the same listings."""
    median = {key: _median(results, key) for key in
              ("stackdrill", "stackdrill_cold", "stackdrill_api_only", "openstack_cli",
               "openstack_cli_servers", "openstack_cli_volumes", "cli_extra_server_listing")}
    same = median["openstack_cli"] - median["cli_extra_server_listing"]
    commands = results["cli_commands"]
    extra = (f"{results['volumes_in_use']} volumes were in use, so `volume list` also listed "
             f"the project's {results['project_servers']} servers (openstacksdk objects) to "
             "name the attachments: extra work stackdrill does not do. It is timed alone "
             "and taken off the CLI's time for the comparison (an estimate: the CLI's own "
             "figure includes it)."
             if results["volumes_in_use"] else
             "No volume was in use, so `volume list` made no second server listing.")
    return "\n".join([
        *header(results, f"API snapshot, {results['servers']} servers and "
                         f"{results['volumes']} volumes", {}),
        f"Median of {RUNS} runs each{_cli_runs(results)}. stackdrill: `cloud_api` and "
        "`cloud_images` (services, "
        "hypervisors, servers, volumes and images, concurrently; servers and volumes as JSON "
        f"pages of {PAGE}) and `nova_db`. *Cold*: a new `CloudAccess` per run (authentication and "
        "connections included); *warm*: the previous run's tokens and connections reused. "
        "The CLI is cold only: each command is a new process that authenticates.",
        "",
        f"CLI: `openstack {' '.join(commands['servers'])}` then "
        f"`openstack {' '.join(commands['volumes'])}`. {extra}",
        "",
        "| servers | volumes | stackdrill cold | stackdrill warm | API probes only (warm) "
        "| CLI server list | CLI volume list | CLI as run | of which: the volume list's "
        "server listing | CLI, same listings (estimate) | CLI same listings ÷ stackdrill "
        "(cold/cold) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
        f"| {results['servers']} | {results['volumes']} | {median['stackdrill_cold']:.2f} s "
        f"| {median['stackdrill']:.2f} s | {median['stackdrill_api_only']:.2f} s "
        f"| {median['openstack_cli_servers']:.2f} s | {median['openstack_cli_volumes']:.2f} s "
        f"| {median['openstack_cli']:.2f} s | {median['cli_extra_server_listing']:.2f} s "
        f"| {same:.2f} s | {_ratio(same, median['stackdrill_cold'])} |",
        ""])


def _repolled_only(ways: str) -> bool:
    """Whether every list was re-polled, after the one full listing at the boundary."""
    return all(how in ("re-polled", "full (a drill boundary)")
               for how in (line.split(": ")[1] for line in ways.splitlines() if line))


def repoll_table(results: dict[str, Any]) -> str:
    """The re-polls beside the full listing, the floor and the CLI's same single listing."""
    median = {key: _median(results, key) for key in
              ("raw_pages", "stackdrill_api_only", "stackdrill_cold", "repoll_unchanged",
               "repoll_changed", "openstack_cli_servers", "openstack_cli_volumes_single")}
    cli = median["openstack_cli_servers"] + median["openstack_cli_volumes_single"]
    each = results["repoll_changed_each"]
    ways = [results["repoll_unchanged_ways"], *results["repoll_changed_ways"]]
    read = ("Every re-poll re-polled both lists." if all(map(_repolled_only, ways)) else
            "Not every re-poll re-polled: how each list was read is in the JSON "
            "(`repoll_unchanged_ways`, `repoll_changed_ways`).")
    verified = ("Verified: its `--debug` log shows no request sent to the compute endpoint."
                if results["cli_single_listing_verified"] else
                "NOT VERIFIED: its `--debug` log shows a request to the compute endpoint, or "
                "no volume listing; it may still have listed the servers.")
    return "\n".join([
        "## Re-polls between a drill's boundaries", "",
        f"Median of {RUNS}, warm. *Floor*: the raw pages of both lists, concurrently. *Full*: "
        "`cloud_api` and `cloud_images` listing everything (the column above). *Re-poll*: the "
        "same probes between a drill's boundaries, servers by `changes-since` and volumes by "
        f"`updated_at`, after a full listing; *1 % changed*: {each} servers and {each} volumes "
        "had their `updated_at` moved to now in SQL since that listing. "
        f"{read} *CLI*: `server list` and a `volume list` whose compute endpoint answers 404, "
        f"so the same single listing of each, cold{_cli_runs(results)}. {verified}", "",
        "| servers | volumes | floor | full | full ÷ floor | re-poll, nothing changed "
        "| re-poll, 1 % changed | CLI, the same single listing | CLI ÷ stackdrill (cold/cold) |",
        "|---|---|---|---|---|---|---|---|---|",
        f"| {results['servers']} | {results['volumes']} | {median['raw_pages']:.2f} s "
        f"| {median['stackdrill_api_only']:.2f} s "
        f"| {_ratio(median['stackdrill_api_only'], median['raw_pages'])} "
        f"| {median['repoll_unchanged']:.2f} s | {median['repoll_changed']:.2f} s "
        f"| {cli:.2f} s | {_ratio(cli, median['stackdrill_cold'])} |", ""])


def _cli_runs(results: dict[str, Any]) -> str:
    runs = int(results.get("cli_runs", RUNS))
    return "" if runs == RUNS else f" (the CLI: {runs} run{'s' * (runs > 1)})"


def compare(access: CloudAccess, targets: Targets, controller: Target, cloud: str,
            repolls: bool, cli_runs: int = RUNS) -> dict[str, Any]:
    """The comparison: the full snapshot against the CLI as run and, with ``repolls``, the
    floor, the re-polls and the CLI's same single listing; the CLI ``cli_runs`` times."""
    results = {**provenance(), **measure(access, targets, cloud, cli_runs=cli_runs)}
    if repolls:
        results.update(measure_repolls(access, targets, controller,
                                       results["servers"], results["volumes"]))
        results.update(measure_cli_single(access, cloud, runs=cli_runs))
    return results


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"not a positive whole number: {text!r}")
    return int(text)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cloud", default="stackdrill-lab", help="cloud name in clouds.yaml")
    parser.add_argument("--inventory", default="/var/lib/stackdrill-lab/inventory.yaml",
                        help="the cloud's stackdrill inventory")
    parser.add_argument("--populate", type=int, metavar="N", help="ensure N servers and volumes")
    parser.add_argument("--clone", type=int, metavar="N",
                        help="then reach N servers and volumes by copying database rows")
    parser.add_argument("--breakdown", action="store_true",
                        help="time each part of the snapshot alone instead of the comparison")
    parser.add_argument("--no-repolls", action="store_true",
                        help="time only the full snapshot and the CLI as run, not the floor, "
                        "the re-polls and the CLI's single listing")
    parser.add_argument("--cli-runs", type=_positive, default=RUNS, metavar="N",
                        help=f"run each CLI command N times (default {RUNS}; at 10,000 of each "
                        "a CLI run takes minutes)")
    parser.add_argument("--note", default="", help="one line on the run's conditions, kept in "
                        "the results")
    parser.add_argument("--cleanup", action="store_true",
                        help="delete the sdbench-* resources and the fake compute")
    args = parser.parse_args(argv)
    targets = None
    try:
        access = CloudAccess(args.cloud)
        conn = access.connection()
        targets = Targets(load_inventory(args.inventory))
        controller = targets.with_role("controller")[0]
        if args.cleanup:
            delete_clones(controller)
            cleanup(conn)
            stop_fake_compute(conn, controller)
            return 0
        if args.populate:
            start_fake_compute(conn, controller)
            lift_quotas(conn)
            populate(conn, args.populate)
        if args.clone:
            clone(conn, controller, args.clone)
        if args.breakdown:
            parts = {**breakdown(access, targets), "note": args.note}
        else:
            results = compare(access, targets, controller, args.cloud, not args.no_repolls,
                              args.cli_runs)
            results["note"] = args.note
    except (CloudError, HostError, InventoryError, WaitTimeout,
            subprocess.CalledProcessError) as exc:
        print(f"api_snapshot: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 2
    finally:
        if targets is not None:
            targets.close()
    RESULTS.mkdir(exist_ok=True)
    if args.breakdown:
        name = f"api_breakdown_{parts['servers']}"
        (RESULTS / f"{name}.json").write_text(json.dumps(parts, indent=2) + "\n")
        (RESULTS / f"{name}.md").write_text(breakdown_table(parts))
        print(breakdown_table(parts))
        return 0
    name = f"api_snapshot_{results['servers']}"
    (RESULTS / f"{name}.json").write_text(json.dumps(results, indent=2) + "\n")
    text = table(results) + ("\n" + repoll_table(results) if "repoll_changed" in results else "")
    (RESULTS / f"{name}.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
