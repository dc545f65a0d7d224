"""Binds the compute drills to pytest."""

from pytest_bdd import scenarios

scenarios("compute")
