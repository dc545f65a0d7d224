"""Binds the network drills to pytest. They are tagged @long: the main command runs them, the
test suite leaves them out."""

from pytest_bdd import scenarios

scenarios("network")
