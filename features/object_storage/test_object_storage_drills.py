"""Binds the object storage drills to pytest."""

from pytest_bdd import scenarios

scenarios("object_storage")
