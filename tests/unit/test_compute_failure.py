"""The failed-compute runbooks' SQL: the guide's statements, on host names only, and the parsing of
the guide's instance/volume list."""

from __future__ import annotations

import pytest
from stackdrill.builtin.recovery.move_instances_in_database import (
    VolumeRow,
    instances_on_host_sql,
    move_instances_sql,
    parse_volume_rows,
    volumes_of_host_sql,
)

from stackdrill.api._runbook import RecoveryFailed

INSTANCE = "3f57699a-e773-4650-a443-b4b37eed5a06"
VOLUME = "1f0fbf36-7b1f-4b0e-8d55-2f6d6e0ad1c1"


def test_the_guide_s_select_and_update_name_the_hosts() -> None:
    assert instances_on_host_sql("np-rcc54") == (
        "select uuid from instances where host = 'np-rcc54' and deleted = 0;")
    assert move_instances_sql("np-rcc54", "np-rcc46", "np-rcc46.example.org") == (
        "update instances set host = 'np-rcc46', node = 'np-rcc46.example.org' "
        "where host = 'np-rcc54' and deleted = 0;")


def test_the_volume_query_joins_through_the_attachment_table() -> None:
    sql = volumes_of_host_sql("compute1", "nova", "cinder")
    assert "inner join `cinder`.volume_attachment on `cinder`.volume_attachment.volume_id = " \
           "`cinder`.volumes.id and `cinder`.volume_attachment.deleted = 0" in sql
    assert "`cinder`.volume_attachment.instance_uuid = `nova`.instances.uuid" in sql
    assert sql.endswith("where `nova`.instances.host = 'compute1' and "
                        "`nova`.instances.deleted = 0;")


@pytest.mark.parametrize("host", ["", "a'; drop table instances; --", "x y", "h`"])
def test_anything_but_a_host_name_is_refused_before_it_reaches_sql(host: str) -> None:
    with pytest.raises(RecoveryFailed, match="not a host name"):
        move_instances_sql("compute1", host, "compute2")
    with pytest.raises(RecoveryFailed, match="not a host name"):
        instances_on_host_sql(host)


def test_a_database_name_is_an_identifier() -> None:
    with pytest.raises(RecoveryFailed, match="not a database name"):
        volumes_of_host_sql("compute1", "nova`; drop", "cinder")


def test_the_saved_list_is_read_from_mysql_batch_output() -> None:
    output = (f"{INSTANCE}\t{VOLUME}\tin-use\tattached\t/dev/vdb\tcanary-vol\n"
              f"{INSTANCE}\t{VOLUME.replace('1c1', '1c2')}\tin-use\tattached\tNULL\tother\n"
              "\n")
    assert parse_volume_rows(output) == [
        VolumeRow(INSTANCE, VOLUME, "/dev/vdb"),
        VolumeRow(INSTANCE, VOLUME.replace("1c1", "1c2"), ""),
    ]


def test_a_row_that_is_not_a_uuid_is_refused() -> None:
    with pytest.raises(ValueError):
        parse_volume_rows(f"not-a-uuid\t{VOLUME}\tin-use\tattached\t/dev/vdb\tx\n")
