"""A failed compute repaired and powered on again, after its instances were moved away by hand:
its libvirt still defines their domains, and they must go before anything starts them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from stackdrill.api import Recovery, RunbookStep, wait
from stackdrill.cloud.canary import wait_compute_up
from stackdrill.core.params import Param, positive_float


class RemoveStaleDomains(Recovery):
    """When the failed compute is repaired and powered on, its libvirt still defines the domains
    of the instances moved away by hand. On shared storage, starting one would run a second
    qemu on the same disk; the runbook undefines every domain Nova places elsewhere (or no
    longer knows), after the host and its nova-compute are back."""

    name = "remove_stale_domains"
    description = ("On a returned compute, undefine the libvirt domains of instances Nova "
                   "places on another host (domains Nova does not know are left alone), then "
                   "wait for its nova-compute to be up")
    params: ClassVar[Mapping[str, Param]] = {
        "timeout": Param("seconds for the host, then for nova-compute", positive_float, 300.0),
    }

    def runbook(self) -> list[RunbookStep]:
        name = self.target.name
        return [
            RunbookStep(f"Wait for {name}'s libvirtd to answer", self.wait_libvirt,
                        ("virsh list --all --uuid",)),
            RunbookStep("Undefine each domain Nova places on another host",
                        self.undefine_stale, ("virsh destroy <domain>",
                                              "virsh undefine <domain>")),
            RunbookStep(f"Wait for nova-compute on {name} up", self.wait_compute_up,
                        ("openstack compute service list",)),
        ]

    def _domains(self) -> list[str]:
        return self.target.run("virsh list --all --uuid", check=True, timeout=10).stdout.split()

    def wait_libvirt(self) -> None:
        wait(lambda: self._domains() is not None, self.values["timeout"],
             f"libvirtd answering on {self.target.name}")

    def undefine_stale(self) -> None:
        conn = self.cloud()
        for domain in self._domains():
            server = conn.compute.find_server(domain, ignore_missing=True, all_projects=True)
            if server is None:
                # Not an instance Nova knows: not this runbook's to remove.
                self.target.run(f"virsh dominfo {domain} | head -3")
                continue
            if server.compute_host == self.target.name:
                continue
            state = self.target.run(f"virsh domstate {domain}", check=True).stdout.strip()
            if state == "running":
                self.target.run(f"virsh destroy {domain}", check=True)
            self.target.run(f"virsh undefine {domain}", check=True)

    def wait_compute_up(self) -> None:
        wait_compute_up(self.cloud(), self.target.name, self.values["timeout"])
