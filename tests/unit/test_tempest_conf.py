"""``tempest.conf`` from the clouds.yaml entry, what the cloud says of itself and the inventory's
``tempest`` key: the embedded lab's capabilities by default (no guest networking, no SSH into
guests, no volume snapshots or clones, Swift's middleware as its ``/info`` names it, the block
storage type as the catalog spells it), every one overridable from the inventory, its
``options`` last; the file is the only place the admin password is written, with mode 0600."""

from __future__ import annotations

import configparser
import stat
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType, SimpleNamespace
from typing import Any

import pytest

from stackdrill.cloud.tempest import TempestError
from stackdrill.cloud.tempest.conf import (
    Credentials,
    capabilities,
    credentials_of,
    render,
    tempest_conf,
    write_private,
)
from stackdrill.cloud.tempest.discovery import CloudFacts, discover, swift_info_url
from stackdrill.inventory.loader import parse_inventory
from stackdrill.inventory.model import TempestSpec
from tests.unit.tempest_fakes import LAB_CATALOG, PASSWORD, FakeConn

LAB_FACTS = CloudFacts(LAB_CATALOG, "img-1", "img-1", "flv-1", "flv-1",
                       ("dlo", "symlink", "versioned_writes"), False, 2)
CREDS = Credentials("http://192.0.2.10:5000/v3", "admin", PASSWORD, "admin")


DEFAULTS = TempestSpec()


def parsed(spec: TempestSpec = DEFAULTS, facts: CloudFacts = LAB_FACTS,
           creds: Credentials = CREDS) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(render(tempest_conf(spec, creds, facts)))
    return parser


def spec_of(tempest: dict[str, Any]) -> TempestSpec:
    """The ``tempest`` key as an inventory file gives it."""
    data = {"hosts": {"c1": {"address": "192.0.2.1", "roles": ["compute"]}}, "tempest": tempest}
    return parse_inventory(data, Path("inventory.yaml")).tempest


def test_the_lab_is_declared_as_it_is() -> None:
    conf = parsed()
    assert dict(conf["service_available"]) == {
        "nova": "true", "cinder": "true", "glance": "true", "swift": "true",
        "neutron": "false", "horizon": "false"}
    assert conf["validation"]["run_validation"] == "false"
    assert conf["auth"]["create_isolated_networks"] == "false"
    assert conf["compute-feature-enabled"]["interface_attach"] == "false"
    assert conf["volume"]["catalog_type"] == "volumev3"
    assert conf["volume"]["storage_protocol"] == "iSCSI"
    assert {key: conf["volume-feature-enabled"][key] for key in (
        "snapshot", "clone", "backup", "extend_volume_with_snapshot")} == {
        "snapshot": "false", "clone": "false", "backup": "false",
        "extend_volume_with_snapshot": "false"}
    assert dict(conf["object-storage-feature-enabled"]) == {
        "discoverable_apis": "dlo,symlink,versioned_writes", "container_sync": "false",
        "object_versioning": "true", "discoverability": "true"}
    assert {key: conf["compute"][key] for key in (
        "image_ref", "image_ref_alt", "flavor_ref", "flavor_ref_alt", "min_compute_nodes")} == {
        "image_ref": "img-1", "image_ref_alt": "img-1", "flavor_ref": "flv-1",
        "flavor_ref_alt": "flv-1", "min_compute_nodes": "2"}


def test_the_admin_credentials_and_keystone_come_from_clouds_yaml() -> None:
    conf = parsed()
    assert dict(conf["auth"]) | {"admin_password": "?"} == {
        "use_dynamic_credentials": "true", "create_isolated_networks": "false",
        "admin_username": "admin", "admin_password": "?", "admin_project_name": "admin",
        "admin_user_domain_name": "Default", "admin_project_domain_name": "Default",
        "admin_domain_name": "Default"}
    assert conf["auth"]["admin_password"] == PASSWORD
    assert dict(conf["identity"]) == {
        "uri_v3": "http://192.0.2.10:5000/v3", "region": "RegionOne",
        "v3_endpoint_type": "public", "disable_ssl_certificate_validation": "false"}
    for section in ("compute", "image", "volume", "object-storage", "network"):
        assert (conf[section]["region"], conf[section]["endpoint_type"]) == (
            "RegionOne", "public")


def test_a_dollar_in_a_password_is_no_oslo_substitution() -> None:
    creds = Credentials("http://k:5000/v3", "admin", "pa$$word$x", "admin")
    assert parsed(creds=creds)["auth"]["admin_password"] == "pa$$$$word$$x"


def test_the_inventory_declares_what_the_cloud_cannot_say() -> None:
    spec = spec_of({"services": {"object-storage": False}, "guest_networking": True,
                    "ssh_validation": True,
                    "volume": {"snapshots": True, "clones": True, "backups": True,
                               "storage_protocol": "ceph", "vendor_name": "Ceph"}})
    conf = parsed(spec)
    assert conf["service_available"]["swift"] == "false"
    assert conf["service_available"]["neutron"] == "true"
    assert conf["auth"]["create_isolated_networks"] == "true"
    assert conf["validation"]["run_validation"] == "true"
    assert conf["volume"]["storage_protocol"] == "ceph"
    assert conf["volume"]["vendor_name"] == "Ceph"
    assert [conf["volume-feature-enabled"][key] for key in ("snapshot", "clone", "backup")] == [
        "true", "true", "true"]


def test_the_inventory_options_come_last() -> None:
    spec = spec_of({"options": {"volume": {"catalog_type": "block-storage"},
                                "compute-feature-enabled": {"resize": True, "pause": False},
                                "compute": {"build_timeout": 600}}})
    conf = parsed(spec)
    assert conf["volume"]["catalog_type"] == "block-storage"
    assert conf["compute-feature-enabled"]["resize"] == "true"
    assert conf["compute-feature-enabled"]["pause"] == "false"
    assert conf["compute"]["build_timeout"] == "600"
    assert conf["compute"]["image_ref"] == "img-1"


def test_a_cloud_without_a_service_declares_it_unavailable() -> None:
    facts = CloudFacts(frozenset({"identity", "compute", "image", "block-storage"}), "i", "i",
                       "f", "f")
    conf = parsed(facts=facts)
    assert conf["service_available"]["swift"] == "false"
    assert conf["volume"]["catalog_type"] == "block-storage"
    assert not conf.has_section("object-storage-feature-enabled")  # Tempest's defaults


def test_guest_networking_needs_a_network_service() -> None:
    facts = CloudFacts(frozenset({"identity", "compute"}), "i", "i", "f", "f")
    assert parsed(spec_of({"guest_networking": True}), facts)["service_available"][
        "neutron"] == "false"


def test_backups_follow_a_cinder_backup_service_unless_declared() -> None:
    with_backup = CloudFacts(LAB_CATALOG, "i", "i", "f", "f", backup_service=True)
    assert parsed(facts=with_backup)["volume-feature-enabled"]["backup"] == "true"
    declared = spec_of({"volume": {"backups": False}})
    assert parsed(declared, with_backup)["volume-feature-enabled"]["backup"] == "false"


def region(auth: dict[str, Any], **config: Any) -> SimpleNamespace:
    return SimpleNamespace(config={"auth": auth, **config}, region_name=config.pop(
        "region_name", "RegionTwo"))


def test_credentials_are_read_from_the_clouds_yaml_entry() -> None:
    creds = credentials_of("lab", region(
        {"auth_url": "https://keystone.example:5000/", "username": "ops", "password": PASSWORD,
         "project_name": "ops", "user_domain_name": "Ops", "project_domain_name": "OpsP"},
        interface="internal", verify=False, cacert="/etc/ca.pem"))
    assert creds.uri_v3 == "https://keystone.example:5000/v3"
    assert (creds.region, creds.interface, creds.verify, creds.cacert) == (
        "RegionTwo", "internal", False, "/etc/ca.pem")
    conf = parsed(creds=creds)
    assert conf["identity"]["disable_ssl_certificate_validation"] == "true"
    assert conf["identity"]["ca_certificates_file"] == "/etc/ca.pem"
    assert conf["auth"]["admin_user_domain_name"] == "Ops"
    assert conf["auth"]["admin_project_domain_name"] == "OpsP"
    assert PASSWORD not in repr(creds)


def test_an_entry_without_a_password_is_refused_in_one_line() -> None:
    with pytest.raises(TempestError) as raised:
        credentials_of("prod", region({"auth_url": "http://k:5000", "application_credential_id":
                                       "x", "application_credential_secret": "y"}))
    assert str(raised.value) == ("Tempest needs the admin's username, password, project_name in "
                                 "the clouds.yaml entry of cloud 'prod' (password "
                                 "authentication)")


def test_the_file_is_written_for_its_owner_alone(tmp_path: Path) -> None:
    path = tmp_path / "ws" / "etc" / "tempest.conf"
    path.parent.mkdir(parents=True)
    path.write_text("old")
    path.chmod(0o644)
    write_private(path, render(tempest_conf(TempestSpec(), CREDS, LAB_FACTS)))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert PASSWORD in path.read_text()


def test_what_the_evidence_shows_holds_no_credential() -> None:
    spec = spec_of({"options": {"validation": {"image_ssh_password": "guest-pw-123"}}})
    shown = capabilities(spec, LAB_FACTS)
    assert "[service_available] neutron = false" in shown.splitlines()
    assert "[volume] catalog_type = volumev3" in shown.splitlines()
    assert "set by the inventory: [validation] image_ssh_password" in shown.splitlines()
    assert "guest-pw-123" not in shown
    assert PASSWORD not in shown
    assert "admin" not in shown


def test_the_cloud_is_asked_what_it_can_say() -> None:
    conn = FakeConn(info={"swift": {"version": "2.38"}, "container_sync": {}, "dlo": {}},
                    backup_up=True)
    facts = discover(conn, TempestSpec(), 2)
    assert facts.catalog == LAB_CATALOG
    assert (facts.image, facts.image_alt, facts.flavor, facts.flavor_alt) == (
        "canary-img", "canary-img", "canary-flv", "canary-flv")
    assert facts.swift_apis == ("container_sync", "dlo")
    assert conn.requested == ["http://192.0.2.10:8080/info"]
    assert facts.backup_service is True
    assert facts.notes == ()
    # Tempest's own projects must boot the canary image by ID: a shared one is opened to them
    assert conn.visibility["canary-img"] == "community"


def test_the_inventory_names_the_image_and_flavor() -> None:
    conn = FakeConn(images={"cirros": "cirros-id", "cirros-alt": "alt-id"}, info={})
    conn.flavors["m1.tiny"] = "tiny-id"
    spec = spec_of({"image": "cirros", "image_alt": "cirros-alt", "flavor": "m1.tiny"})
    facts = discover(conn, spec, 1)
    assert (facts.image, facts.image_alt, facts.flavor, facts.flavor_alt) == (
        "cirros-id", "alt-id", "tiny-id", "tiny-id")


def test_an_image_the_cloud_lacks_is_one_line() -> None:
    with pytest.raises(TempestError) as raised:
        discover(FakeConn(info={}), spec_of({"image": "cirros", "flavor": "x"}), 1)
    assert str(raised.value) == ("Tempest's image: no image named 'cirros' on the cloud "
                                 "(tempest.image in the inventory)")


def test_swift_info_that_does_not_answer_is_said_in_the_evidence() -> None:
    facts = discover(FakeConn(info=RuntimeError("HTTP 503\nmore")), TempestSpec(), 1)
    assert facts.swift_apis is None
    assert facts.notes == ("Swift's /info did not answer (HTTP 503): Tempest's defaults stand "
                           "for its middleware",)
    assert facts.notes[0] in capabilities(TempestSpec(), facts).splitlines()


def test_swift_info_answering_an_error_is_no_middleware() -> None:
    facts = discover(FakeConn(info=503), TempestSpec(), 1)
    assert facts.swift_apis is None
    assert facts.notes == ("Swift's /info answered HTTP 503: Tempest's defaults stand for its "
                           "middleware",)


@pytest.mark.parametrize(("endpoint", "url"), [
    ("http://h:8080/v1/AUTH_abc", "http://h:8080/info"),
    ("https://h/object-store/v1/AUTH_abc/", "https://h/object-store/info"),
    ("http://h:8080", "http://h:8080/info"),
])
def test_swift_info_sits_beside_the_versioned_endpoint(endpoint: str, url: str) -> None:
    assert swift_info_url(endpoint) == url


def test_an_empty_key_is_the_defaults_and_no_key_the_same() -> None:
    assert spec_of({}) == replace(TempestSpec(), declared=True)
    assert spec_of({}).options == MappingProxyType({})
    no_key = parse_inventory({"hosts": {"c1": {"address": "192.0.2.1", "roles": ["compute"]}}},
                             Path("inventory.yaml"))
    assert no_key.tempest == TempestSpec()
