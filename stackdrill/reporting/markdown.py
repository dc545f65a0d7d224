"""``stackdrill report --markdown``: the drill table of the README, from the drill history.

One row per drill: its feature, scenario, the faults it injected and the recoveries it ran (as
its latest passing run recorded them), the time to recover of that run, the median and range
over the passing runs among its latest N that were timed from the same kind of moment as that
run (a fault's injection, or the start of a procedure), and what the tenants felt in that run
(:mod:`stackdrill.reporting.tenant_figures`; "—" where nothing measured it). Above the table,
when and where the records come from: their dates, the clouds, and the machines the harness
ran on.
Nothing in it depends on when it is printed, so the same history always gives the same text.

``stackdrill report --markdown --releases`` prints instead each drill before and after an
upgrade (:func:`releases_table`, from :mod:`stackdrill.reporting.release_comparison`).
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from typing import Any

from stackdrill.reporting.charts import seconds
from stackdrill.reporting.drill_runs import DrillRuns, comparable
from stackdrill.reporting.history import Run
from stackdrill.reporting.release_comparison import RULE as RELEASE_RULE
from stackdrill.reporting.release_comparison import Comparison, Side
from stackdrill.reporting.tenant_figures import HEADLINES, NONE, cell

LAST = 10  # runs of each drill, unless --last says otherwise
HEADER = ("| feature | scenario | fault | recovery (runbook) | time to recover, latest pass "
          "| median (range) of the passing runs | API unavailable, longest | heartbeat stall, "
          "longest | volume I/O stall, longest | guest reboots | lost writes |\n"
          "|---|---|---|---|---|---|---|---|---|---|---|")


def _cell(text: str) -> str:
    return " ".join(text.replace("|", "\\|").split())


def feature_name(feature: str) -> str:
    """``features/compute/libvirt_dbus.feature`` -> ``compute/libvirt_dbus``."""
    return feature.removeprefix("features/").removesuffix(".feature")


def faults(run: Run) -> str:
    """Each fault with the hosts it hit, in the order first injected: ``power_off_host`` on
    compute1, compute2."""
    hosts: dict[str, list[str]] = {}
    for title in run.faults:
        name, _, host = title.partition(" on ")
        host = host.split(" (", 1)[0]  # a remark after the host, as in "(injecting took 0.05s)"
        hosts.setdefault(name, [])
        if host and host not in hosts[name]:
            hosts[name].append(host)
    if not hosts:
        return "none"
    return "; ".join(f"`{name}` on {', '.join(where)}" if where else f"`{name}`"
                     for name, where in hosts.items())


def recoveries(run: Run) -> str:
    names = list(dict.fromkeys(name for name in run.recovery_names if name))
    return ", then ".join(f"`{name}`" for name in names) if names else "none"


def _shown(item: DrillRuns) -> Run:
    """The run whose faults and recoveries describe the drill: the latest that passed."""
    passed = [run for run in item.runs if run.result == "passed"]
    return passed[-1] if passed else item.latest


def _passed(runs: Sequence[Run]) -> list[float]:
    return [run.time_to_recover for run in runs
            if run.result == "passed" and run.time_to_recover is not None]


def _count(item: DrillRuns, passed: int, same: int) -> str:
    """How many runs passed, and how many passes were left out of the median and range for
    timing from another kind of moment than the latest pass (:func:`clock`)."""
    count = f"{passed} of {len(item.runs)} passed"
    other = passed - same
    return count + (f", {other} timed from another start left out" if other else "")


def row(item: DrillRuns) -> str:
    shown = _shown(item)
    passed = _passed(comparable(item.runs, shown))
    latest = seconds(passed[-1]) if passed else "none passed"
    count = _count(item, len(_passed(item.runs)), len(passed))
    spread = (f"{seconds(statistics.median(passed))} ({seconds(min(passed))} to "
              f"{seconds(max(passed))}), {count}" if passed else count)
    felt = [cell(shown, headline) if shown.result == "passed" else NONE
            for headline in HEADLINES]
    cells = [f"`{feature_name(item.feature)}`", item.scenario, faults(shown),
             recoveries(shown), latest, spread, *felt]
    return "| " + " | ".join(_cell(cell) for cell in cells) + " |"


def machine_text(machine: Mapping[str, Any] | None) -> str:
    if not machine:
        return "an unrecorded machine"
    parts = []
    if machine.get("nproc"):
        parts.append(f"{machine['nproc']} CPUs")
    if machine.get("memory_bytes"):
        parts.append(f"{machine['memory_bytes'] / 2**30:.1f} GiB")
    name = f"`{machine.get('hostname') or 'unknown'}`"
    return f"{name} ({', '.join(parts)})" if parts else name


def provenance(groups: Sequence[DrillRuns], last: int) -> str:
    runs = [run for item in groups for run in item.runs]
    first = min(run.started for run in runs).strftime("%Y-%m-%d")
    end = max(run.ended for run in runs).strftime("%Y-%m-%d")
    dates = first if first == end else f"{first} to {end}"
    clouds = sorted({run.cloud or "unknown" for run in runs})
    machines = sorted({machine_text(run.machine) for run in runs})
    return (f"{len(runs)} runs of {len(groups)} drills, recorded {dates} (UTC), on cloud "
            f"{', '.join(clouds)}, the harness on {'; '.join(machines)}. Time to recover: "
            f"from the moment each record measures it from (the first fault's injection; in "
            f"a drill without a fault, the start of its first procedure) to the first snapshot "
            f"matching the verified state; the median and range are over the passing runs "
            f"among each drill's latest {last} timed from the same kind of moment as its "
            f"latest pass. What the tenants felt is from that latest pass: the longest outage "
            f"of any API sampled (and which), the longest heartbeat and volume I/O stall of "
            f"any canary, and their reboots and lost acknowledged writes; {NONE} where nothing "
            f"measured it.")


def render(groups: Sequence[DrillRuns], last: int) -> str:
    """The provenance line and the table, as Markdown."""
    rows = "\n".join(row(item) for item in groups)
    return f"{provenance(groups, last)}\n\n{HEADER}\n{rows}\n"


def _side(side: Side | None) -> str:
    return side.text() if side is not None else "no passed or failed run"


def releases_table(comparison: Comparison) -> str:
    """``stackdrill report --markdown --releases``: the releases compared, then a row per drill
    run on either: its latest verdict and time to recover on each, the medians, and the flag."""
    before, after = comparison.before.label, comparison.after.label
    rows = "\n".join(
        "| " + " | ".join(_cell(text) for text in (
            f"`{feature_name(row.feature)}`", row.scenario, _side(row.before), _side(row.after),
            f"**{row.flag}**: {row.why}")) + " |"
        for row in comparison.rows)
    return (f"{comparison.heading()}. {comparison.count_line()}. The rule: {RELEASE_RULE}.\n\n"
            f"| feature | scenario | {before} | {after} | across the upgrade |\n"
            f"|---|---|---|---|---|\n{rows}\n")
