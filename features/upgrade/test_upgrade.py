"""Binds the pre-upgrade and post-upgrade checks to pytest (selected by stackdrill run --phase)."""

from pytest_bdd import scenarios

scenarios("upgrade")
