"""Binds the network drills to pytest. They are tagged @wip: written, not yet run on the lab,
and left out of every run unless the marker expression names wip (``-m wip``)."""

from pytest_bdd import scenarios

scenarios("network")
