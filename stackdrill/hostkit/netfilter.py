"""iptables rule sets that a fault adds in a host's network namespace and removes again: each rule
carries a drill tag (``-m comment --comment <tag>``), so an undo deletes its own rules and none of
the site's firewall. Also the TCP connect an operator tries across a cut (bash's ``/dev/tcp``
under ``timeout``: every host with bash has it, no netcat needed). Commands and parsing only;
nothing here talks to a host.
"""

from __future__ import annotations

import re
import secrets
import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from stackdrill.core.errors import InvalidValue
from stackdrill.hosts.target import Target

CHAINS = ("INPUT", "OUTPUT")
TAG_PREFIX = "stackdrill"
CONNECT_TIMEOUT = 3  # seconds a connect across the cut is given before it counts as unanswered


def drill_tag(kind: str, drill_id: str | None = None) -> str:
    """The comment that marks one injection's rules: ``stackdrill-<kind>-<id>``, the id drawn
    when the fault is prepared and journalled with its rules."""
    return f"{TAG_PREFIX}-{kind}-{drill_id or secrets.token_hex(4)}"


def tagged(chain: str, match: str, tag: str, action: str | None) -> str:
    """One rule as ``iptables -C/-D/-I`` take it after the verb: the chain, the match, the tag
    and the target (none for a rule that only counts the packets it sees)."""
    rule = f"{chain} {match} -m comment --comment {shlex.quote(tag)}".replace("  ", " ")
    return rule if action is None else f"{rule} -j {action}"


def ensure_rule(rule: str) -> str:
    """Insert ``rule`` at the head of its chain unless it is there already."""
    return f"iptables -C {rule} 2>/dev/null || iptables -I {rule}"


def remove_rule(rule: str) -> str:
    """Delete every copy of ``rule``; nothing when it is gone (an idempotent undo)."""
    return f"while iptables -C {rule} 2>/dev/null; do iptables -D {rule}; done"


def install(rules: Sequence[str]) -> str:
    """One command putting ``rules`` at the head of their chains in the order given (the first
    rule of each chain first): copies left by an earlier attempt are deleted, then each rule is
    inserted at its position, so the exemptions listed first stay above every DROP."""
    position: dict[str, int] = {}
    commands = [remove_rule(rule) for rule in rules]
    for rule in rules:
        chain, _, spec = rule.partition(" ")
        position[chain] = position.get(chain, 0) + 1
        commands.append(f"iptables -I {chain} {position[chain]} {spec}")
    return " && ".join(commands)


def uninstall(rules: Iterable[str]) -> str:
    return "; ".join(remove_rule(rule) for rule in rules) + "; true"


def listing(tag: str) -> str:
    """The INPUT and OUTPUT rules that carry ``tag``, with their counters (read-only)."""
    return (f"for chain in {' '.join(CHAINS)}; do iptables -S $chain -v; done "
            f"| grep -F -e {shlex.quote(f'--comment {tag} ')} || true")


def remove_tagged(target: Target, rules: Iterable[str], tag: str) -> str | None:
    """Remove ``rules`` from the host, then list what ``tag`` still marks there: None when
    nothing is left, else the first rule left (for the undo's one-line failure)."""
    target.run(uninstall(rules), check=True)
    left = target.run(listing(tag), check=True).stdout.strip()
    return left.splitlines()[0] if left else None


CHAINS_READ = "iptables -S INPUT -v && iptables -S OUTPUT -v"

_COUNTS = re.compile(r" -c (\d+) (\d+)")
_ACTION = re.compile(r" -j (\S+)")


@dataclass(frozen=True)
class Counted:
    """One tagged rule as ``iptables -S -v`` shows it: its chain, the text without the counters,
    its target (None for a counting rule) and its packet count."""

    chain: str
    text: str
    action: str | None
    packets: int


def parse_counted(text: str, tag: str) -> list[Counted]:
    """The rules of ``iptables -S <chain> -v`` output that carry ``tag``, in order."""
    found = []
    for line in text.splitlines():
        counts = _COUNTS.search(line)
        if counts is None or f"--comment {tag} " not in line + " " \
                or not line.startswith("-A "):
            continue
        action = _ACTION.search(line)
        found.append(Counted(chain=line.split()[1], text=_COUNTS.sub("", line)[3:],
                             action=action.group(1) if action else None,
                             packets=int(counts.group(1))))
    return found


def dropped(rules: Iterable[Counted]) -> int:
    return sum(rule.packets for rule in rules if rule.action == "DROP")


# -- connects across a cut -------------------------------------------------------------------

OPEN, REFUSED, NO_ANSWER = "open", "refused", "no answer"


def connects(pairs: Iterable[tuple[str, int]]) -> str:
    """One command trying a TCP connect to each ``(address, port)``: a line ``address port
    status message`` for each (0 connected; 124 no answer within the timeout)."""
    tries = []
    for address, port in pairs:
        path = f"/dev/tcp/{address}/{int(port)}"
        tries.append(f"out=$(timeout {CONNECT_TIMEOUT} bash -c {shlex.quote(f'exec 3<>{path}')}"
                     f" 2>&1); echo {shlex.quote(address)} {int(port)} $? $out")
    return "; ".join(tries) or "true"


def parse_connects(text: str) -> dict[tuple[str, int], str]:
    """``connects`` output -> {(address, port): open, refused or no answer}. Refused is an
    answer: the peer's kernel sent a reset, so packets flow both ways. A connect that timed out,
    or that the local kernel refused to send (a DROP in OUTPUT), got no answer."""
    found: dict[tuple[str, int], str] = {}
    for line in text.splitlines():
        fields = line.split(maxsplit=3)
        if len(fields) < 3 or not fields[1].isdigit() or not fields[2].isdigit():
            continue
        status, message = int(fields[2]), fields[3] if len(fields) > 3 else ""
        if status == 0:
            outcome = OPEN
        elif "refused" in message.lower():
            outcome = REFUSED
        else:
            outcome = NO_ANSWER
        found[(fields[0], int(fields[1]))] = outcome
    return found


def answered(outcome: str | None) -> bool:
    return outcome in (OPEN, REFUSED)


def exempt_rules(addresses: Iterable[str], tag: str, ssh_port: int | None = None) -> list[str]:
    """ACCEPT rules, in and out, for traffic with ``addresses`` (the harness, BMCs): a fault
    puts them before its DROP rules, so its cut never falls on them. With ``ssh_port``, only
    the SSH connections to the host's sshd on that port are exempt."""
    rules = []
    inbound = f" -p tcp --dport {int(ssh_port)}" if ssh_port else ""
    outbound = f" -p tcp --sport {int(ssh_port)}" if ssh_port else ""
    for address in addresses:
        quoted = shlex.quote(address)
        rules += [tagged("INPUT", f"-s {quoted}{inbound}", tag, "ACCEPT"),
                  tagged("OUTPUT", f"-d {quoted}{outbound}", tag, "ACCEPT")]
    return rules


def port(text: str) -> int:
    value = int(text)
    if not 0 < value < 65536:
        raise InvalidValue(f"expected a TCP port 1..65535, got {text!r}")
    return value


def ports(text: str) -> list[int]:
    items = [part.strip() for part in text.replace(";", ",").split(",")]
    if not all(items):
        raise InvalidValue(f"expected a comma-separated list of ports, got {text!r}")
    return [port(item) for item in items]


DIRECTIONS = ("both", "incoming", "outgoing")


def direction(text: str) -> str:
    """``both``, ``incoming`` (the host accepts no new connection from the peers) or
    ``outgoing`` (it opens none to them), as seen from the host the fault is on."""
    value = text.strip().lower()
    if value not in DIRECTIONS:
        raise InvalidValue(f"expected one of {', '.join(DIRECTIONS)}, got {text!r}")
    return value
