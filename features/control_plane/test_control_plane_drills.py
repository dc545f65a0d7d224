"""Binds the control-plane drills to pytest."""

from pytest_bdd import scenarios

scenarios("control_plane")
