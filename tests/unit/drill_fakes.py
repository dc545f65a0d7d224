"""A conftest for pytest runs of synthetic drills: fake targets of a cloud named "testcloud", a
journal in a temporary directory, no cloud API, and a redactor that knows one secret,
"s3cr3t-pw"."""

CONFTEST = '''
from types import SimpleNamespace

import pytest

from stackdrill.core.evidence import Redactor
from stackdrill.engine.journal import Journal


@pytest.fixture(scope="session")
def targets():
    inventory = SimpleNamespace(cloud="testcloud", protected=frozenset(), production=False,
                                path="inventory.yaml")
    return SimpleNamespace(inventory=inventory, listeners=[])


@pytest.fixture(scope="session")
def journal(tmp_path_factory):
    return Journal(tmp_path_factory.mktemp("state") / "journal.jsonl")


@pytest.fixture(scope="session")
def cloud_access():
    return None


@pytest.fixture(scope="session")
def redactor():
    found = Redactor()
    found.add("s3cr3t-pw")
    return found
'''
