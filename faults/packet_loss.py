"""Drop a percentage of a host's packets: on an interface, or to and from a set of peers, with
iptables' ``statistic`` match (``--mode random --probability p``) in the host's own network
namespace. Each packet is dropped independently with probability p, as a lossy link would.

There is no latency fault beside it: the lab machine's kernel has no ``sch_netem`` (built
without ``CONFIG_NET_SCH_NETEM``, no modules to load), so ``tc qdisc ... netem`` is refused.

The rules carry the injection's tag; rules that accept the harness's SSH connections to the host
and every BMC's traffic are placed first, so the harness's own commands lose nothing. Only its
SSH is spared: its API calls to a lossy controller lose packets like everyone's. A counting rule
(no target) sits right before each DROP with the same match, so the confirmation measures the
loss: the packets the DROP rules took out of those the counting rules saw since the injection,
which must be above zero.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from stackdrill.api import Fault, FaultError
from stackdrill.core.errors import InvalidValue
from stackdrill.core.params import Param, ParamError, parse_params
from stackdrill.hostkit import netfilter, peers
from stackdrill.inventory.model import HostSpec, Inventory


def percent(text: str) -> float:
    value = float(text.strip().removesuffix("%").strip())
    if not 0 < value <= 100:
        raise InvalidValue(f"expected a percentage above 0 and at most 100, got {text!r}")
    return value


def interface(text: str) -> str:
    value = text.strip()
    if not value or len(value) > 15 or not all(c.isalnum() or c in "-_.@" for c in value):
        raise InvalidValue(f"expected an interface name such as eth0, got {text!r}")
    return value


def loss_rules(matches: Sequence[tuple[str, str]], probability: float, tag: str) -> list[str]:
    """For each ``(chain, match)``: a counting rule, then the DROP with the statistic match."""
    rules = []
    for chain, match in matches:
        rules += [netfilter.tagged(chain, match, tag, None),
                  netfilter.tagged(chain, f"{match} -m statistic --mode random "
                                          f"--probability {probability:.5f}", tag, "DROP")]
    return rules


def _matches(device: str | None, addresses: Sequence[str], direction: str
             ) -> list[tuple[str, str]]:
    chains = {"both": ("INPUT", "OUTPUT"), "incoming": ("INPUT",),
              "outgoing": ("OUTPUT",)}[direction]
    found = []
    for chain in chains:
        side = "-i" if chain == "INPUT" else "-o"
        peer = "-s" if chain == "INPUT" else "-d"
        on = f"{side} {shlex.quote(device)} " if device else ""
        found += [(chain, f"{on}{peer} {shlex.quote(a)}".strip()) for a in addresses] \
            or [(chain, on.strip())]
    return found


class PacketLoss(Fault):
    name = "packet_loss"
    description = ("drop a percentage of packets on an interface or to and from peers "
                   "(iptables statistic, random mode), the harness's SSH path and BMCs exempt; "
                   "confirmed by the drop rules' counters against the packets seen")
    params: ClassVar[Mapping[str, Param]] = {
        "percent": Param("the share of packets dropped, above 0 and at most 100", percent),
        "interface": Param("the interface (e.g. eth0) whose packets are dropped", interface, ""),
        "peers": Param("only packets to and from these: role:NAME, host:NAME, cluster:NAME",
                       peers.selectors, []),
        "direction": Param("both, incoming or outgoing", netfilter.direction, "both"),
    }

    def __init__(self, target: Any, raw_params: Mapping[str, str]) -> None:
        super().__init__(target, raw_params)
        self._require_scope(self.values)

    @classmethod
    def validate(cls, raw_params: Mapping[str, str]) -> None:
        cls._require_scope(parse_params(f"fault {cls.name!r}", cls.params, raw_params))

    @classmethod
    def _require_scope(cls, values: Mapping[str, Any]) -> None:
        if not values["interface"] and not values["peers"]:
            raise ParamError(f"fault {cls.name!r}: name an interface or peers (or both): "
                             f"loss on every packet of the host is not offered")

    @classmethod
    def inventory_problems(cls, raw_params: Mapping[str, str], inventory: Inventory,
                           hosts: Sequence[HostSpec]) -> list[str]:
        values = parse_params(f"fault {cls.name!r}", cls.params, raw_params)
        if not values["peers"]:
            return []
        try:
            found = peers.resolve(inventory, values["peers"])
        except InvalidValue as exc:
            return [f"peers: {exc}"]
        inside = peers.containing(found, peers.own_addresses(inventory))
        if inside is not None:
            return [f"the peers include {inside.name} ({inside.address}), the harness's own "
                    f"address"]
        return []

    def _addresses(self) -> list[str]:
        if not self.values["peers"]:
            return []
        try:
            found = peers.resolve(self.target.inventory, self.values["peers"])
        except InvalidValue as exc:
            raise FaultError(f"{self.target.name}: peers: {exc}") from None
        addresses = [spec.address for spec in found if spec.name != self.target.name]
        if not addresses:
            raise FaultError(f"{self.target.name}: peers: the set is empty once this host is "
                             f"left out")
        return addresses

    def _probability(self) -> float:
        return float(self.values["percent"]) / 100

    def plan(self) -> list[str]:
        names = [f"<{', '.join(self.values['peers'])}>"] if self.values["peers"] else []
        rules = loss_rules(_matches(self.values["interface"] or None, names,
                                    self.values["direction"]),
                           self._probability(), "stackdrill-packet-loss-<id>")
        return ["iptables -I <ACCEPT the harness's SSH path and the BMCs, first>",
                *(f"iptables -I {rule}" for rule in rules)]

    def prepare(self) -> dict[str, Any]:
        addresses = self._addresses()
        inventory = self.target.inventory
        harness = peers.harness_addresses(inventory, self.target.name)
        bmcs = peers.bmc_addresses(inventory)
        exempt = sorted(set(harness) | set(bmcs))
        if set(addresses) & set(exempt):
            raise FaultError(f"{self.target.name}: refusing loss toward "
                             f"{', '.join(sorted(set(addresses) & set(exempt)))}: the harness's "
                             f"SSH path or a BMC")
        tag = netfilter.drill_tag("packet-loss")
        matches = _matches(self.values["interface"] or None, addresses, self.values["direction"])
        return {"tag": tag, "percent": self.values["percent"], "exempt": exempt,
                "rules": [*netfilter.exempt_rules(harness, tag, self.target.spec.ssh.port),
                          *netfilter.exempt_rules(bmcs, tag),
                          *loss_rules(matches, self._probability(), tag)]}

    def inject(self, facts: Mapping[str, Any]) -> None:
        self.target.run(netfilter.install(facts["rules"]), check=True)

    def confirm(self, facts: Mapping[str, Any]) -> str | None:
        """Since the injection, the counting rules have seen packets and the tagged DROP
        rules have dropped some of them."""
        result = self.target.run(netfilter.listing(facts["tag"]), record=False)
        if not result.ok:
            return None
        counted = netfilter.parse_counted(result.stdout, facts["tag"])
        seen = sum(rule.packets for rule in counted if rule.action is None)
        dropped = netfilter.dropped(counted)
        if dropped <= 0 or seen <= 0:
            return None
        return (f"{self.target.name}: iptables dropped {dropped} of {seen} packets "
                f"({100 * dropped / seen:.1f} %, asked {facts['percent']:g} %) by the rules "
                f"tagged {facts['tag']}")

    def undo(self, facts: Mapping[str, Any]) -> None:
        """Delete exactly the rules the injection added (by its tag); fails if a rule with
        the tag is left."""
        left = netfilter.remove_tagged(self.target, facts["rules"], facts["tag"])
        if left is not None:
            raise FaultError(f"{self.target.name}: rules tagged {facts['tag']} left after the "
                             f"undo: {left}")
