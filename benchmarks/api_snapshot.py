"""API snapshot at scale: stackdrill's cloud probes against the openstack CLI, on a cloud with
1,000 and 10,000 servers and volumes (the main lab with a fake-driver compute).

    python benchmarks/api_snapshot.py --cloud stackdrill-lab --populate 1000
    python benchmarks/api_snapshot.py --cloud stackdrill-lab            # measure only
    python benchmarks/api_snapshot.py --cloud stackdrill-lab --cleanup  # delete sdbench-*

``--populate N`` creates servers (``sdbench-*``, in batches with min/max count) and volumes up
to N each; nothing else is created or deleted. Each side is timed over three runs:
stackdrill's ``cloud_api`` probe (the lists in pages of 1000, concurrently) and ``nova_db``
probe (one query per table), against ``openstack server list --all-projects --long`` plus
``openstack volume list --all-projects --long``. Writes benchmarks/results/api_snapshot.json and
.md.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from probes.cloud_api import CloudApi
from probes.nova_db import NovaDatabase
from stackdrill.cloud.access import CloudAccess, CloudError
from stackdrill.hosts.target import Targets
from stackdrill.inventory import InventoryError, load_inventory
from stackdrill.probe import CloudContext, take_snapshot

RESULTS = Path(__file__).resolve().parent / "results"
PREFIX = "sdbench-"
BATCH = 100
RUNS = 3


def _timed(call: Callable[[], Any]) -> list[float]:
    times = []
    for _ in range(RUNS):
        clock = time.monotonic()
        call()
        times.append(time.monotonic() - clock)
    return times


def populate(access: CloudAccess, count: int, flavor: str, image: str, network: str) -> None:
    conn = access.connection()
    have = sum(1 for _ in conn.compute.servers(all_projects=False, name=f"^{PREFIX}"))
    while have < count:
        batch = min(BATCH, count - have)
        conn.compute.create_server(name=f"{PREFIX}{have}", flavor_id=conn.compute.find_flavor(
            flavor, ignore_missing=False).id, image_id=conn.image.find_image(
            image, ignore_missing=False).id, networks=[{"uuid": conn.network.find_network(
                network, ignore_missing=False).id}], min_count=batch, max_count=batch)
        have += batch
        print(f"servers requested: {have}/{count}", flush=True)
    volumes = sum(1 for v in conn.block_storage.volumes() if (v.name or "").startswith(PREFIX))
    for index in range(volumes, count):
        conn.block_storage.create_volume(name=f"{PREFIX}{index}", size=1)
        if index % BATCH == 0:
            print(f"volumes requested: {index}/{count}", flush=True)


def cleanup(access: CloudAccess) -> None:
    conn = access.connection()
    for server in conn.compute.servers(name=f"^{PREFIX}"):
        conn.compute.delete_server(server)
    for volume in conn.block_storage.volumes():
        if (volume.name or "").startswith(PREFIX):
            conn.block_storage.delete_volume(volume)


def measure(access: CloudAccess, targets: Targets, cloud: str) -> dict[str, Any]:
    context = CloudContext(access, targets)
    probes = [CloudApi(), NovaDatabase()]
    snap = take_snapshot([], probes, cloud=context)
    if snap.errors:
        raise CloudError(f"cloud probes failed: {next(iter(snap.errors.values()))}")
    servers = sum(1 for p in snap.values if p.startswith("cloud/server:") and
                  p.endswith("/status"))
    volumes = sum(1 for p in snap.values if p.startswith("cloud/volume:") and
                  p.endswith("/status"))
    results: dict[str, Any] = {"servers": servers, "volumes": volumes}
    results["stackdrill"] = _timed(lambda: take_snapshot([], probes, cloud=context))
    results["stackdrill_api_only"] = _timed(lambda: take_snapshot([], [CloudApi()],
                                                                  cloud=context))

    def cli() -> None:
        for args in (["server", "list"], ["volume", "list"]):
            subprocess.run(["openstack", "--os-cloud", cloud, *args, "--all-projects", "--long",
                            "-f", "value"], check=True, capture_output=True)

    results["openstack_cli"] = _timed(cli)
    return results


def table(results: dict[str, Any]) -> str:
    median = {k: statistics.median(results[k]) for k in
              ("stackdrill", "stackdrill_api_only", "openstack_cli")}
    return (f"| servers | volumes | stackdrill (cloud_api + nova_db) | cloud_api only "
            f"| openstack CLI (server + volume list --long) |\n|---|---|---|---|---|\n"
            f"| {results['servers']} | {results['volumes']} | {median['stackdrill']:.2f} s "
            f"| {median['stackdrill_api_only']:.2f} s | {median['openstack_cli']:.2f} s |\n")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cloud", required=True, help="cloud name in clouds.yaml")
    parser.add_argument("--inventory", required=True, help="the cloud's stackdrill inventory")
    parser.add_argument("--populate", type=int, metavar="N", help="ensure N servers and volumes")
    parser.add_argument("--cleanup", action="store_true", help="delete the sdbench-* resources")
    parser.add_argument("--flavor", default="m1.tiny")
    parser.add_argument("--image", default="cirros")
    parser.add_argument("--network", default="private")
    args = parser.parse_args(argv)
    try:
        access = CloudAccess(args.cloud)
        if args.cleanup:
            cleanup(access)
            return 0
        if args.populate:
            populate(access, args.populate, args.flavor, args.image, args.network)
        targets = Targets(load_inventory(args.inventory))
        results = measure(access, targets, args.cloud)
    except (CloudError, InventoryError, subprocess.CalledProcessError) as exc:
        print(f"api_snapshot: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 2
    RESULTS.mkdir(exist_ok=True)
    name = f"api_snapshot_{results['servers']}"
    (RESULTS / f"{name}.json").write_text(json.dumps(results, indent=2) + "\n")
    (RESULTS / f"{name}.md").write_text(table(results))
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
