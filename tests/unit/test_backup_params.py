"""The backup and drop-table runbooks take only names and paths that are safe in a shell."""

from __future__ import annotations

import pytest
from stackdrill.builtin.faults.drop_table import DropTable
from stackdrill.builtin.recovery.control_plane_backup import BackUpControlPlane, RestoreControlPlane

from stackdrill.core.params import ParamError


@pytest.mark.parametrize("params", [
    {"database": "glance; rm -rf /", "table": "images"},
    {"database": "glance", "table": "images`"},
    {"database": "", "table": "images"},
    {"database": "glance"},
])
def test_drop_table_refuses_anything_but_names(params: dict[str, str]) -> None:
    with pytest.raises(ParamError):
        DropTable.validate(params)


def test_drop_table_takes_a_database_and_a_table() -> None:
    DropTable.validate({"database": "nova_api", "table": "flavors"})


@pytest.mark.parametrize("params", [
    {"dir": "relative/backup"},
    {"dir": "/var/backups/open stack"},
    {"dir": "/tmp/$(reboot)"},
    {"configs": "nova, ../etc"},
])
def test_backup_refuses_unsafe_paths_and_names(params: dict[str, str]) -> None:
    with pytest.raises(ParamError):
        BackUpControlPlane.validate(params)


def test_restore_needs_the_services_it_stops() -> None:
    with pytest.raises(ParamError, match="services"):
        RestoreControlPlane.validate({"databases": "glance"})
    RestoreControlPlane.validate({"services": "glance-api", "databases": "glance",
                                  "configs": "glance"})
