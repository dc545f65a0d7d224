"""Binds the verification drills (Tempest after recoveries) to pytest."""

from pytest_bdd import scenarios

scenarios("verification")
