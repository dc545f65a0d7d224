"""Fakes for the Tempest step's tests: a lab-like cloud's openstacksdk connection and clouds.yaml
entry, and a Tempest virtualenv whose ``tempest`` replays the real subunit sample of
``data/tempest`` and whose ``subunit2junitxml`` gives its real JUnit XML."""

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
args = sys.argv[1:]
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


def fake_venv(directory: Path, mode: str = "sample") -> TempestVenv:
    venv = TempestVenv(directory / "venv")
    venv.tempest.parent.mkdir(parents=True)
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


