"""The plugin's command-line options and its hook specification (``--inventory``,
``--lab``, ``--journal``, ``--history``, ``--settle``, ``--confirm``, ``--seed``, the dry
run...)."""

from __future__ import annotations

import os

import pytest

from stackdrill.api import _hookspecs
from stackdrill.engine.choice import draw_seed


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(_hookspecs)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("stackdrill", "stackdrill recovery drills")
    group.addoption("--inventory", default=os.environ.get("STACKDRILL_INVENTORY"),
                    help="inventory file of the cloud's hosts (env STACKDRILL_INVENTORY)")
    group.addoption("--os-cloud", default=os.environ.get("OS_CLOUD"),
                    help="cloud name in clouds.yaml (env OS_CLOUD)")
    group.addoption("--lab", action="store_true", default=False,
                    help="drill the embedded lab: bring it up if needed and use its inventory")
    group.addoption("--journal", default=None,
                    help="undo journal (default: $XDG_STATE_HOME/stackdrill/journal.jsonl)")
    group.addoption("--history", default=None,
                    help="append one JSON record per drill scenario to this file (default: "
                         "$XDG_STATE_HOME/stackdrill/history.jsonl)")
    group.addoption("--openstack-bin-dir", action="append", metavar="DIR",
                    default=[d for d in os.environ.get("STACKDRILL_OPENSTACK_BIN_DIRS",
                                                       "").split(":") if d],
                    help="a directory on the hosts holding the OpenStack services' commands "
                         "(nova-manage, ...) besides PATH, for their versions in the reports; "
                         "repeatable (env STACKDRILL_OPENSTACK_BIN_DIRS, colon-separated)")
    group.addoption("--settle", type=float, default=180.0,
                    help="seconds a drill waits for the cloud to be healthy before it records "
                         "the verified state and refuses to start (default 180)")
    group.addoption("--budget-scale", type=float, default=1.0,
                    help="multiply every time budget written in the features by this factor")
    group.addoption("--safeguard-interval", type=float, default=2.0,
                    help="seconds between two observations of a drill's safeguards (default 2)")
    group.addoption("--full-api-polls", action="store_true", default=False,
                    help="list every server and volume in every snapshot, as at a drill's "
                         "boundaries, instead of re-polling what changed since the last "
                         "listing (to compare the two)")
    group.addoption("--confirm", metavar="CLOUD", default=None,
                    help="allow faults and recoveries on a production inventory; CLOUD must "
                         "be its cloud name")
    group.addoption("--seed", type=int, default=None, metavar="N",
                    help="seed of the hosts chosen at random ('on a random compute host'); "
                         "the seed used is printed and kept in the evidence, and the same seed "
                         "chooses the same hosts again (default: drawn for the run)")
    group.addoption("--tempest-venv", default=None, metavar="DIR",
                    help="the virtualenv `stackdrill tempest install` installed Tempest in, for "
                         "the Tempest step (default: $STACKDRILL_TEMPEST_VENV, else "
                         "$XDG_STATE_HOME/stackdrill/tempest/venv)")
    group.addoption("--stackdrill-plan", action="store_true", default=False,
                    help="dry run: print each scenario's faults, recoveries, target hosts and "
                         "commands, and run nothing")


def planning(config: pytest.Config) -> bool:
    return bool(config.getoption("stackdrill_plan", False))


SEED = pytest.StashKey[int]()


def seed_of(config: pytest.Config) -> int:
    """The run's seed for hosts chosen at random: ``--seed``, else one drawn once per run."""
    if SEED not in config.stash:
        given = config.getoption("seed", None)
        config.stash[SEED] = int(given) if given is not None else draw_seed()
    return config.stash[SEED]
