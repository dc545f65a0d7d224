"""A host whose commands run in a local bash, with an ``iptables`` on its PATH that keeps the
INPUT and OUTPUT chains in a JSON file and answers as iptables does: ``-I CHAIN [N] RULE``,
``-C`` (exit 1 when the rule is not there), ``-D`` (deletes one copy, exit 1 when none),
``-S [CHAIN] [-v]`` with the policies first and each rule as iptables shows it (``-s`` with its
``/32``, ``-m tcp`` after ``-p tcp``, ``-c PACKETS BYTES`` before the target with ``-v``). Rules
compare as iptables compares them, after that normalisation. A test reads and changes the
chains (a site's own rule, a counter) through :class:`IptablesHost`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from stackdrill.hosts.ssh import CommandResult

SCRIPT = r'''#!{python}
import json, shlex, sys
STATE = {state!r}
args = sys.argv[1:]
chains = json.load(open(STATE))

def norm(tokens):
    out = []
    i = 0
    while i < len(tokens):
        t = tokens[i]
        out.append(t)
        if t in ("-s", "-d") and i + 1 < len(tokens):
            a = tokens[i + 1]
            out.append(a if "/" in a or ":" in a else a + "/32")
            i += 2
            continue
        if t == "-p" and i + 1 < len(tokens) and tokens[i + 1] == "tcp":
            out.append("tcp")
            if tokens[i + 2:i + 4] != ["-m", "tcp"]:
                out += ["-m", "tcp"]
            i += 2
            continue
        i += 1
    return out

def save():
    json.dump(chains, open(STATE, "w"))

verb = args[0]
if verb == "-S":
    rest = [a for a in args[1:] if a != "-v"]
    verbose = "-v" in args
    names = rest[:1] or ["INPUT", "FORWARD", "OUTPUT"]
    for name in names:
        print(f"-P {{name}} ACCEPT")
    for name in names:
        for rule in chains.get(name, []):
            tokens = list(rule["tokens"])
            if verbose:
                j = tokens.index("-j") if "-j" in tokens else len(tokens)
                tokens[j:j] = ["-c", str(rule["packets"]), str(rule["packets"] * 60)]
            print(" ".join(["-A", name] + [shlex.quote(t) if " " in t else t for t in tokens]))
    sys.exit(0)
chain, rest = args[1], args[2:]
position = 1
if verb == "-I" and rest and rest[0].isdigit():
    position, rest = int(rest[0]), rest[1:]
tokens = norm(rest)
rules = chains.setdefault(chain, [])
found = [i for i, r in enumerate(rules) if r["tokens"] == tokens]
if verb == "-C":
    sys.exit(0 if found else 1)
if verb == "-D":
    if not found:
        print("iptables: Bad rule (does a matching rule exist in that chain?).", file=sys.stderr)
        sys.exit(1)
    del rules[found[0]]
    save()
    sys.exit(0)
if verb == "-I":
    rules.insert(position - 1, {{"tokens": tokens, "packets": 0}})
    save()
    sys.exit(0)
print(f"iptables: unknown {{verb}}", file=sys.stderr)
sys.exit(2)
'''


class IptablesHost:
    """A target named ``name`` in ``inventory`` whose commands run here, with the fake
    iptables."""

    def __init__(self, name: str, directory: Path, inventory: Any = None) -> None:
        self.name = name
        self.inventory = inventory
        self.spec = inventory.hosts[name] if inventory is not None else None
        self.ran: list[str] = []
        self.state = directory / f"iptables-{name}.json"
        self.state.write_text(json.dumps({"INPUT": [], "OUTPUT": []}))
        self.bin = directory / f"bin-{name}"
        self.bin.mkdir()
        script = self.bin / "iptables"
        script.write_text(SCRIPT.format(python=sys.executable, state=str(self.state)))
        script.chmod(0o755)

    def run(self, command: str, *, check: bool = False, timeout: float | None = None,
            record: bool = True) -> CommandResult:
        self.ran.append(command)
        done = subprocess.run(["bash", "-c", command], capture_output=True, text=True,
                              env={**os.environ, "PATH": f"{self.bin}:{os.environ['PATH']}"},
                              timeout=60, check=False)
        if check and done.returncode:
            raise AssertionError(f"{command} exited {done.returncode}: {done.stderr}")
        return CommandResult(self.name, command, done.returncode, done.stdout, done.stderr,
                             0.0, 0.0)

    def iptables(self, arguments: str) -> str:
        return self.run(f"iptables {arguments}", check=True).stdout

    def rules(self) -> list[str]:
        """Every rule as ``iptables -S`` shows it, without the policies."""
        return [line for line in self.iptables("-S").splitlines() if line.startswith("-A ")]

    def count(self, chain: str, index: int, packets: int) -> None:
        """Set the packet counter of the ``index``-th rule of ``chain`` (0 first)."""
        chains = json.loads(self.state.read_text())
        chains[chain][index]["packets"] = packets
        self.state.write_text(json.dumps(chains))
