"""Cut the network between the host the fault is on and a set of peers (a role, hosts, a cluster),
or only their traffic on some TCP ports (a compute and the controller's AMQP port), both ways or
one way, with iptables in the host's own network namespace.

- ``both``: every packet from and to the peers (on ``ports``, to or from those ports) is dropped,
  established connections included: an AMQP connection already open goes silent.
- ``incoming`` / ``outgoing``: the host accepts no new connection from the peers, or opens none
  to them (``-m conntrack --ctstate NEW``); connections the other way, with their replies, still
  pass. TCP cannot run over a link that drops every packet one way, so this is what a one-way
  cut means for it.

Each rule carries the injection's tag (``stackdrill-partition-<id>``, journalled with the rules),
so the undo deletes exactly those rules and none of the site's firewall. Rules that accept the
harness's SSH path to the host and every BMC address are placed first: the harness never loses a
host it must undo on. A set that holds the harness's own address is refused at collection; a
peer on the harness's SSH path (a jump host either way) is refused before anything is injected.

The cut is confirmed from both sides: a TCP connect (bash's ``/dev/tcp``) across it gets no answer
from the host and from each peer, one that must still work gets an answer (a port left open, or a
host outside the set), and the counters of the drill's DROP rules are read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from stackdrill.api import Fault, FaultError
from stackdrill.core.errors import InvalidValue
from stackdrill.core.params import Param, ParamError, parse_params
from stackdrill.hostkit import netfilter, peers
from stackdrill.inventory.model import HostSpec, Inventory

ACROSS, STILL = "across the cut", "still open"


def cut_rules(addresses: Sequence[str], ports: Sequence[int], direction: str,
              tag: str) -> list[str]:
    """The DROP rules that cut ``addresses`` off, as ``iptables -I`` takes them."""
    rules = []
    new = " -m conntrack --ctstate NEW"
    for address in addresses:
        inbound, outbound = f"-s {address}", f"-d {address}"
        if direction == "both" and not ports:
            rules += [netfilter.tagged("INPUT", inbound, tag, "DROP"),
                      netfilter.tagged("OUTPUT", outbound, tag, "DROP")]
        elif direction == "both":
            for port in ports:
                rules += [netfilter.tagged(chain, f"{match} -p tcp --{side} {port}", tag, "DROP")
                          for chain, match in (("INPUT", inbound), ("OUTPUT", outbound))
                          for side in ("dport", "sport")]
        else:
            chain, match = ("INPUT", inbound) if direction == "incoming" else ("OUTPUT", outbound)
            targets = [f" -p tcp --dport {port}" for port in ports] or [""]
            rules += [netfilter.tagged(chain, f"{match}{port}{new}", tag, "DROP")
                      for port in targets]
    return rules


class Partition(Fault):
    name = "partition"
    description = ("cut the network between this host and a set of peers (role:, host:, "
                   "cluster:), on some TCP ports or all traffic, both ways or one; iptables "
                   "rules tagged by the injection, the harness's SSH path and BMCs exempt; "
                   "confirmed by TCP connects from both sides")
    params: ClassVar[Mapping[str, Param]] = {
        "peers": Param("the other side: role:NAME, host:NAME, cluster:NAME or a bare name, "
                       "comma-separated", peers.selectors),
        "ports": Param("TCP ports cut (to or from them); all traffic when not given",
                       netfilter.ports, []),
        "direction": Param("both, incoming (no new connection from the peers) or outgoing "
                           "(none to them)", netfilter.direction, "both"),
        "check_port": Param("the port the confirmation connects to across the cut (default: "
                            "the first of ports, else 22)", netfilter.port, 0),
    }

    @classmethod
    def inventory_problems(cls, raw_params: Mapping[str, str], inventory: Inventory,
                           hosts: Sequence[HostSpec]) -> list[str]:
        values = parse_params(f"fault {cls.name!r}", cls.params, raw_params)
        try:
            found = peers.resolve(inventory, values["peers"])
        except InvalidValue as exc:
            return [f"peers: {exc}"]
        if all(not [p for p in found if p.name != host.name] for host in hosts):
            return [f"peers: {', '.join(values['peers'])} names only the host the fault is on, "
                    f"so the set is empty"]
        own = peers.own_addresses(inventory)
        inside = peers.containing([*found, *hosts], own)
        if inside is not None:
            return [f"the partition would include {inside.name} ({inside.address}), the "
                    f"harness's own address: the harness would cut itself off"]
        return []

    @classmethod
    def cut_off(cls, raw_params: Mapping[str, str], inventory: Inventory,
                host: HostSpec) -> list[HostSpec]:
        """The peers, whose side of the cut the guards count as down with this host."""
        try:
            values = parse_params(f"fault {cls.name!r}", cls.params, raw_params)
            found = peers.resolve(inventory, values["peers"])
        except (InvalidValue, ParamError):
            return []
        return [spec for spec in found if spec.name != host.name]

    def _check_port(self) -> int:
        return int(self.values["check_port"]) or next(iter(self.values["ports"]), 22)

    def _peers(self) -> list[HostSpec]:
        try:
            found = peers.resolve(self.target.inventory, self.values["peers"])
        except InvalidValue as exc:
            raise FaultError(f"{self.target.name}: peers: {exc}") from None
        found = [spec for spec in found if spec.name != self.target.name]
        if not found:
            raise FaultError(f"{self.target.name}: peers: the set is empty once this host is "
                             f"left out")
        return found

    def plan(self) -> list[str]:
        names = ", ".join(self.values["peers"])
        rules = cut_rules([f"<{names}>"], self.values["ports"], self.values["direction"],
                          "stackdrill-partition-<id>")
        return ["iptables -I <ACCEPT the harness's SSH path and the BMCs, first>",
                *(f"iptables -I {rule}" for rule in rules)]

    def prepare(self) -> dict[str, Any]:
        inventory = self.target.inventory
        found = self._peers()
        exempt = peers.never_cut(inventory, self.target.name)
        on_path = [spec.name for spec in found
                   if spec in peers.ssh_path(inventory, self.target.name)
                   or spec in peers.through(inventory, self.target.name)
                   or any(peers.same_address(spec.address, a) for a in exempt)]
        if on_path:
            raise FaultError(f"{self.target.name}: refusing to cut {', '.join(on_path)}: on the "
                             f"harness's SSH path or a BMC's address")
        tag = netfilter.drill_tag("partition")
        rules = [*netfilter.exempt_rules(exempt, tag),
                 *cut_rules([spec.address for spec in found], self.values["ports"],
                            self.values["direction"], tag)]
        outsiders = [spec.name for spec in inventory.hosts.values()
                     if spec.name != self.target.name and spec not in found]
        return {"tag": tag, "rules": rules, "exempt": exempt,
                "peers": {spec.name: spec.address for spec in found},
                "ports": self.values["ports"], "direction": self.values["direction"],
                "check_port": self._check_port(), "outsiders": sorted(outsiders)}

    def inject(self, facts: Mapping[str, Any]) -> None:
        self.target.run(netfilter.install(facts["rules"]), check=True)

    def _tries(self, facts: Mapping[str, Any]) -> list[tuple[str, str, int, bool]]:
        """Each connect the confirmation makes: (from host, to address, port, whether it must
        get an answer)."""
        port, direction = int(facts["check_port"]), facts["direction"]
        me = self.target.spec
        tries = []
        for name, address in facts["peers"].items():
            tries.append((me.name, address, port, direction == "incoming"))
            tries.append((name, me.address, port, direction == "outgoing"))
        first_peer, first_address = next(iter(facts["peers"].items()))
        if direction == "both" and facts["ports"]:
            open_port = self.target.inventory.hosts[first_peer].ssh.port
            if open_port not in facts["ports"]:
                tries.append((me.name, first_address, open_port, True))
        elif direction == "both" and facts["outsiders"]:
            outsider = self.target.inventory.hosts[facts["outsiders"][0]]
            tries.append((me.name, outsider.address, outsider.ssh.port, True))
        return tries

    def _observe(self, tries: list[tuple[str, str, int, bool]]) -> dict[tuple[str, str, int], str]:
        seen: dict[tuple[str, str, int], str] = {}
        for origin in dict.fromkeys(t[0] for t in tries):
            pairs = [(address, port) for host, address, port, _ in tries if host == origin]
            result = self.target.peer(origin).run(netfilter.connects(pairs), record=False)
            for (address, port), outcome in netfilter.parse_connects(result.stdout).items():
                seen[(origin, address, port)] = outcome
        return seen

    def confirm(self, facts: Mapping[str, Any]) -> str | None:
        """Every connect across the cut gets no answer, from this host and from each peer, and
        every one that must still work gets an answer (connected, or refused by the peer's
        kernel: packets flow); then the drill's rules' counters are read."""
        tries = self._tries(facts)
        seen = self._observe(tries)
        lines = []
        for host, address, port, must_answer in tries:
            outcome = seen.get((host, address, port))
            if outcome is None or netfilter.answered(outcome) != must_answer:
                return None
            lines.append(f"{host} -> {address}:{port} {outcome} "
                         f"({STILL if must_answer else ACROSS})")
        listing = self.target.run(netfilter.listing(facts["tag"]), record=False)
        dropped = netfilter.dropped(netfilter.parse_counted(listing.stdout, facts["tag"]))
        ports = ", ".join(map(str, facts["ports"])) or "all traffic"
        peers_text = ", ".join(f"{n} ({a})" for n, a in facts["peers"].items())
        return (f"{self.target.name}: cut from {peers_text} on {ports}, {facts['direction']}: "
                + "; ".join(lines)
                + f"; {dropped} packets dropped by the rules tagged {facts['tag']}")

    def undo(self, facts: Mapping[str, Any]) -> None:
        """Delete exactly the rules the injection added (by its tag); fails if a rule with
        the tag is left."""
        left = netfilter.remove_tagged(self.target, facts["rules"], facts["tag"])
        if left is not None:
            raise FaultError(f"{self.target.name}: rules tagged {facts['tag']} left after the "
                             f"undo: {left}")
