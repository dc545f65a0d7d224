"""Binds the HA control plane's drills to pytest (skipped against an inventory without the
clusters and the VIP they drill)."""

from pytest_bdd import scenarios

scenarios("ha")
