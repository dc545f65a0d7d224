"""Binds the block storage drills to pytest."""

from pytest_bdd import scenarios

scenarios("block_storage")
