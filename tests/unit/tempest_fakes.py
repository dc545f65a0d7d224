"""Fakes for the Tempest step's tests: a lab-like cloud's openstacksdk connection and clouds.yaml
entry, and a Tempest virtualenv whose ``tempest`` replays the real subunit sample of
``data/tempest`` (``tempest run --regex``), makes a workspace (``tempest init``) and lists
Tempest-like test ids in it (``tempest run --list-tests``), and whose ``subunit2junitxml`` gives
the sample's real JUnit XML."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from stackdrill.cloud.tempest.install import TempestVenv
from stackdrill.core.evidence import Redactor

DATA = Path(__file__).parent / "data" / "tempest"
EMPTY = '<testsuite errors="0" failures="0" name="" tests="0" time="0.000">\n</testsuite>\n'
PASSWORD = "s3cret-Admin-pw"
LAB_CATALOG = frozenset({"identity", "compute", "image", "volumev3", "object-store", "network",
                         "placement"})


class FakeConn:
    """An openstacksdk connection to a lab-like cloud."""

    def __init__(self, *, images: dict[str, str] | None = None, info: Any = None,
                 backup_up: bool = False) -> None:
        self.images = {"stackdrill-canary": "canary-img", **(images or {})}
        self.flavors = {"stackdrill-canary.tiny": "canary-flv"}
        catalog = {kind: [] for kind in LAB_CATALOG}
        access = SimpleNamespace(service_catalog=SimpleNamespace(get_endpoints=lambda: catalog))
        self.session = SimpleNamespace(auth=SimpleNamespace(get_access=lambda _: access))
        self.visibility = {"canary-img": "shared"}
        self.image = SimpleNamespace(find_image=self.find_image, update_image=self.update_image)
        self.compute = SimpleNamespace(find_flavor=self.find_flavor)
        self.requested: list[str] = []

        def get(url: str) -> Any:
            self.requested.append(url)
            if isinstance(info, Exception):
                raise info
            if isinstance(info, int):  # an HTTP status
                return SimpleNamespace(status_code=info, json=lambda: {"error": "no"})
            return SimpleNamespace(status_code=200, json=lambda: info)

        self.object_store = SimpleNamespace(
            get_endpoint=lambda: "http://192.0.2.10:8080/v1/AUTH_abc", get=get)
        services = [SimpleNamespace(binary="cinder-volume", state="up")]
        services += [SimpleNamespace(binary="cinder-backup", state="up")] if backup_up else []
        self.block_storage = SimpleNamespace(services=lambda: services)

    def find_image(self, name: str, ignore_missing: bool = True) -> Any:
        found = self.images.get(name)
        return None if found is None else SimpleNamespace(
            id=found, status="active", visibility=self.visibility.get(found, "public"))

    def update_image(self, image: Any, **attrs: Any) -> Any:
        self.visibility[image.id] = attrs["visibility"]
        return SimpleNamespace(id=image.id, status="active", visibility=attrs["visibility"])

    def find_flavor(self, name: str, ignore_missing: bool = True) -> Any:
        found = self.flavors.get(name)
        return None if found is None else SimpleNamespace(id=found)


FAKE_TEMPEST = '''#!{python}
import json, os, pathlib, sys, time
venv = pathlib.Path(__file__).resolve().parent.parent
mode = (venv / "mode").read_text().strip()
listing = (venv / "listing").read_text().strip()
args = sys.argv[1:]
if args[:1] == ["init"]:  # tempest init [--workspace-path FILE] DIR
    workspace = pathlib.Path(args[-1])
    workspace.mkdir(parents=True)
    (workspace / ".stestr.conf").write_text("[DEFAULT]\\n")
    with (venv / "inits.log").open("a") as log:
        log.write(json.dumps(args) + "\\n")
    sys.exit(0)
if "--list-tests" in args:
    with (venv / "listings.log").open("a") as log:
        log.write(os.getcwd() + "\\n")
    if not pathlib.Path(".stestr.conf").exists():
        sys.stderr.write("No .stestr.conf file found in the CWD\\n")
        sys.exit(1)
    if listing == "crash":
        sys.stderr.write("Traceback (most recent call last):\\n  ...\\n")
        sys.stderr.write("ImportError: cannot import name 'clients' from 'tempest'\\n")
        sys.exit(1)
    if listing == "ids":
        sys.stdout.write((venv / "test_ids.txt").read_text())
    sys.exit(0)
conf = pathlib.Path(args[args.index("--config-file") + 1])
(venv / "call.json").write_text(json.dumps({{
    "args": args, "cwd": os.getcwd(), "pid": os.getpid(), "python_env": os.environ.get("PYTHON"),
    "conf_mode": conf.stat().st_mode & 0o777,
    "workspace_mode": pathlib.Path(os.getcwd()).stat().st_mode & 0o777}}))
(pathlib.Path(os.getcwd()) / "tempest.log").write_text("what Tempest logs\\n")
if mode == "hang":
    time.sleep(120)
if mode == "nomatch":
    sys.stdout.write("The specified regex doesn't match with anything")
    sys.exit(1)
if mode == "crash":
    password = conf.read_text().split("admin_password = ")[1].split()[0]
    sys.stderr.write("Traceback (most recent call last):\\n  ...\\n")
    sys.stderr.write("keystoneauth1.exceptions.Unauthorized: bad password " + password + "\\n")
    sys.exit(1)
sys.stdout.buffer.write((venv / "sample.subunit").read_bytes())
'''

FAKE_CONVERTER = '''#!{python}
import pathlib, sys
venv = pathlib.Path(__file__).resolve().parent.parent
data = sys.stdin.buffer.read()
out = pathlib.Path(sys.argv[sys.argv.index("-o") + 1])
if data == (venv / "sample.subunit").read_bytes():
    out.write_text((venv / "sample.xml").read_text())
    sys.exit(1)
out.write_text({empty!r})
'''


LISTED = (
    "tempest.api.compute.flavors.test_flavors.FlavorsV2TestJSON.test_get_flavor"
    "[id-1f12046b-753d-40d2-abb6-d8eb8b30cb2f,smoke]",
    "tempest.api.compute.flavors.test_flavors.FlavorsV2TestJSON.test_list_flavors"
    "[id-e36c0eaa-dff5-4082-ad1f-3f9a80aa3f59]",
    "tempest.api.identity.admin.v3.test_list_users.UsersV3TestJSON.test_list_users_with_name"
    "[id-c285bb37-7325-4c02-bff3-3da5d946d683]",
    "tempest.api.volume.test_volumes_get.VolumesGetTestJSON.test_volume_create_get_delete"
    "[id-54a01030-c7fc-447c-86ee-c1182beae638]",
    "tempest.scenario.test_server_basic_ops.TestServerBasicOps.test_server_basic_ops"
    "[compute,id-7fff3fb3-91d8-4fd0-bd7d-0204f1f180ba,network,smoke]",
)
"""The ids the fake ``tempest run --list-tests`` lists (in the shape of Tempest 47's)."""
VERSION = "47.0.0"


def fake_venv(directory: Path, mode: str = "sample", listing: str = "ids") -> TempestVenv:
    """A fake Tempest virtualenv under ``directory``. ``mode``: what ``tempest run --regex``
    does (``sample`` replays the sample stream; ``nomatch``, ``hang``, ``crash``). ``listing``:
    what ``tempest run --list-tests`` does, run in a workspace ``tempest init`` made
    (``ids`` lists :data:`LISTED`; ``crash`` fails as a broken Tempest does; ``empty``)."""
    venv = TempestVenv(directory / "venv")
    venv.tempest.parent.mkdir(parents=True)
    (venv.path / "lib" / "python3.11" / "site-packages" / f"tempest-{VERSION}.dist-info") \
        .mkdir(parents=True)
    (venv.path / "listing").write_text(listing)
    (venv.path / "test_ids.txt").write_text("".join(f"{test_id}\n" for test_id in LISTED))
    venv.tempest.write_text(FAKE_TEMPEST.format(python=sys.executable))
    venv.subunit2junitxml.write_text(FAKE_CONVERTER.format(python=sys.executable, empty=EMPTY))
    for script in (venv.tempest, venv.subunit2junitxml):
        script.chmod(0o755)
    for name in ("sample.subunit", "sample.xml"):
        (venv.path / name).write_bytes((DATA / name).read_bytes())
    (venv.path / "mode").write_text(mode)
    return venv


def call(venv: TempestVenv) -> dict[str, Any]:
    return dict(json.loads((venv.path / "call.json").read_text()))


def listings(venv: TempestVenv) -> list[str]:
    """The working directory of each ``tempest run --list-tests`` the fake answered."""
    log = venv.path / "listings.log"
    return log.read_text().splitlines() if log.exists() else []


def inits(venv: TempestVenv) -> list[list[str]]:
    """The arguments of each ``tempest init`` the fake answered."""
    log = venv.path / "inits.log"
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


class FakeAccess:
    """The drill's cloud access: a clouds.yaml entry and a connection to a lab-like cloud."""

    def __init__(self, redactor: Redactor) -> None:
        self.cloud = "stackdrill-lab"
        self.redactor = redactor
        self.conn = FakeConn(info={"swift": {}, "dlo": {}})

    def region(self) -> Any:
        self.redactor.add(PASSWORD)  # as CloudAccess registers the entry's credentials
        return SimpleNamespace(region_name="RegionOne", config={
            "interface": "public", "auth": {
                "auth_url": "http://192.0.2.10:5000/v3", "username": "admin",
                "password": PASSWORD, "project_name": "admin"}})

    def connection(self) -> Any:
        return self.conn


