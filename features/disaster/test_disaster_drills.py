"""Binds the disaster drills to pytest."""

from pytest_bdd import scenarios

scenarios("disaster")
