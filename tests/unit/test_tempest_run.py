"""A Tempest run, with a fake Tempest virtualenv whose ``tempest`` writes the real subunit sample
(``data/tempest``) and whose ``subunit2junitxml`` gives its real JUnit XML: the command line,
the private workspace, the deadline, a regex that selects nothing, Tempest's own failure, the
results put into the evidence as sub-steps; and the virtualenv's installation from the lock."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from stackdrill import cli
from stackdrill.cloud.tempest import TempestError
from stackdrill.cloud.tempest.install import LOCK, STAMP, TempestVenv, ensure_tempest, venv_path
from stackdrill.cloud.tempest.runner import (
    MARKER,
    RunSettings,
    Workspace,
    prepare_workspace,
    run_tempest,
)
from stackdrill.cloud.tempest.verification import TempestJob, verify
from stackdrill.core.evidence import Evidence, Redactor
from stackdrill.inventory.model import TempestSpec
from tests.unit.tempest_fakes import PASSWORD, FakeAccess, call, fake_venv

DATA = Path(__file__).parent / "data" / "tempest"


def workspace(tmp_path: Path) -> Workspace:
    return prepare_workspace(tmp_path / "ws", f"[auth]\nadmin_password = {PASSWORD}\n")


def test_a_run_is_serial_in_a_private_workspace_and_reads_every_result(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHON", "/usr/bin/not-tempests-python")
    venv, ws = fake_venv(tmp_path), workspace(tmp_path)
    report = run_tempest(venv, ws, RunSettings("tempest\\.api\\.(compute|volume)"))
    seen = call(venv)
    assert seen["args"] == ["run", "--config-file", str(ws.conf), "--regex",
                            "tempest\\.api\\.(compute|volume)", "--subunit", "--serial"]
    assert seen["cwd"] == str(ws.path)
    assert (seen["conf_mode"], seen["workspace_mode"]) == (0o600, 0o700)
    assert seen["python_env"] is None  # stackdrill's Python stays out of Tempest's
    assert [r.status for r in report.results] == [
        "passed", "passed", "passed", "skipped", "failed", "skipped"]
    assert report.exit_code == 0
    assert report.junit_xml == (DATA / "sample.xml").read_text()
    assert ws.junit.exists() and ws.subunit.read_bytes() == (DATA / "sample.subunit").read_bytes()
    for path in ws.path.rglob("*"):  # Tempest's own files too (tempest.log, .stestr/)
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, path
    assert (ws.path / "tempest.log").exists()


def test_workers_run_in_parallel_when_the_inventory_asks(tmp_path: Path) -> None:
    venv, ws = fake_venv(tmp_path), workspace(tmp_path)
    run_tempest(venv, ws, RunSettings("smoke", concurrency=2))
    assert call(venv)["args"][-3:] == ["--parallel", "--concurrency", "2"]


def test_a_regex_that_selects_nothing_fails_the_step_saying_so(tmp_path: Path) -> None:
    venv, ws = fake_venv(tmp_path, "nomatch"), workspace(tmp_path)
    report = run_tempest(venv, ws, RunSettings("tempest\\.api\\.nothing"))
    assert report.no_match and report.results == ()
    assert report.verdict() == ("Tempest's \"tempest\\.api\\.nothing\" tests: the regex "
                                "selects no Tempest test")


def test_a_run_past_its_deadline_is_ended_and_fails(tmp_path: Path) -> None:
    venv, ws = fake_venv(tmp_path, "hang"), workspace(tmp_path)
    report = run_tempest(venv, ws, RunSettings("tempest", deadline=1.0))
    assert report.exit_code is None
    assert report.verdict() == ("Tempest's \"tempest\" tests did not finish within 1 s: 0 passed, "
                                "0 failed or cut short before the deadline")
    with pytest.raises(ProcessLookupError):
        os.kill(call(venv)["pid"], 0)


def test_tempest_failing_on_its_own_says_so_with_no_secret(tmp_path: Path) -> None:
    venv, ws = fake_venv(tmp_path, "crash"), workspace(tmp_path)
    redactor = Redactor()
    redactor.add(PASSWORD)
    report = run_tempest(venv, ws, RunSettings("tempest"), redactor)
    verdict = report.verdict()
    assert verdict == ("Tempest's \"tempest\" tests: Tempest exited 1 with 0 tests run: "
                       "Traceback (most recent call last): | ... | keystoneauth1.exceptions."
                       "Unauthorized: bad password ***")
    assert PASSWORD in ws.stderr.read_text()  # in the private workspace only


def test_a_workspace_is_emptied_for_each_run_and_nothing_else_is(tmp_path: Path) -> None:
    ws = workspace(tmp_path)
    (ws.path / "old.log").write_text("x")
    again = prepare_workspace(ws.path, "[DEFAULT]\n")
    assert sorted(p.name for p in again.path.iterdir()) == [MARKER, "etc"]
    assert stat.S_IMODE(again.path.stat().st_mode) == 0o700
    other = tmp_path / "home"
    other.mkdir()
    (other / "precious").write_text("x")
    with pytest.raises(TempestError, match="not a stackdrill Tempest workspace"):
        prepare_workspace(other, "")
    assert (other / "precious").exists()


def test_no_tempest_says_how_to_install_it(tmp_path: Path) -> None:
    venv = TempestVenv(tmp_path / "none")
    with pytest.raises(TempestError) as raised:
        run_tempest(venv, workspace(tmp_path), RunSettings("tempest"))
    assert str(raised.value) == (f"Tempest is not installed in {venv.path}: run `stackdrill "
                                 f"tempest install --venv {venv.path}`")


def test_the_step_puts_each_test_into_the_evidence_and_no_secret(tmp_path: Path) -> None:
    redactor = Redactor()
    evidence = Evidence(redactor)
    job = TempestJob(TempestSpec(), fake_venv(tmp_path), tmp_path / "workspaces", 2)
    report = verify(FakeAccess(redactor), job, "tempest\\.api", evidence)  # type: ignore[arg-type]
    assert [(title.split(" (")[0].rsplit(".", 1)[-1], status) for title, status, _ in
            evidence.outcomes] == [
        ("test_get_flavor[id-1f12046b-753d-40d2-abb6-d8eb8b30cb2f,smoke]", "passed"),
        ("test_list_flavors[id-e36c0eaa-dff5-4082-ad1f-3f9a80aa3f59]", "passed"),
        ("test_known_bug[id-9959ca1d-1aa7-4b7a-a1ea-0fff0499b37e]", "passed"),
        ("setUpClass", "skipped"),
        ("test_volume_create_get_delete[id-54a01030-c7fc-447c-86ee-c1182beae638]", "failed"),
        ("test_volume_snapshot[id-2a8abe3a-1fe9-4d9e-9dff-2a9bdd69a8c9]", "skipped")]
    assert [name for name, _ in evidence.attachments] == [
        "what Tempest was told of the cloud", "Tempest results", "Tempest results (JUnit XML)"]
    told = evidence.attachments[0][1].splitlines()
    assert "[service_available] neutron = false" in told
    assert "[compute] image_ref = canary-img" in told
    assert "skipped  setUpClass (sample_api.ServersNegativeTestJSON) (0.0 s): Neutron is not " \
           "available" in evidence.attachments[1][1].splitlines()
    assert report.verdict() is not None  # the sample's failure
    conf = job.workspace("stackdrill-lab") / "etc" / "tempest.conf"
    assert stat.S_IMODE(conf.stat().st_mode) == 0o600
    assert PASSWORD in conf.read_text()
    shown = json.dumps([evidence.attachments, evidence.outcomes, report.summary(),
                        report.verdict()])
    assert PASSWORD not in shown


def test_the_cloud_is_not_asked_before_tempest_is_installed(tmp_path: Path) -> None:
    redactor = Redactor()
    access = FakeAccess(redactor)
    access.conn = None  # type: ignore[assignment]
    job = TempestJob(TempestSpec(), TempestVenv(tmp_path / "none"), tmp_path / "ws")
    with pytest.raises(TempestError, match=r"^Tempest is not installed in "):
        verify(access, job, "x", Evidence(redactor))  # type: ignore[arg-type]
    assert not (tmp_path / "ws").exists()


def test_the_lock_pins_tempest_47_and_the_converter() -> None:
    pins = {line.split("==")[0]: line.split("==")[1] for line in LOCK.read_text().splitlines()
            if "==" in line and not line.startswith(" ")}
    assert pins["tempest"] == "47.0.0"
    assert "junitxml" in pins and "python-subunit" in pins and "stestr" in pins
    assert LOCK.with_name("tempest.in").read_text().split() == ["tempest==47.0.0",
                                                                "junitxml==0.7"]


def test_the_venv_is_installed_from_the_lock_once(tmp_path: Path) -> None:
    venv = TempestVenv(tmp_path / "venv")
    commands: list[list[str]] = []

    def run(command: Any, timeout: float) -> None:
        commands.append(list(command))
        if command[1] == "pip":  # what uv would install
            venv.tempest.parent.mkdir(parents=True, exist_ok=True)
            venv.tempest.write_text("")

    assert ensure_tempest(venv, "/opt/uv", log=lambda _: None, run=run) is True
    assert commands == [
        ["/opt/uv", "venv", "-q", "--clear", "-p", "3.11", str(venv.path)],
        ["/opt/uv", "pip", "install", "-q", "--compile-bytecode", "--python",
         str(venv.python), "-r", str(LOCK)]]
    assert (venv.path / STAMP).read_text().strip() != ""
    assert ensure_tempest(venv, "/opt/uv", log=lambda _: None, run=run) is False
    other = tmp_path / "other.lock"
    other.write_text("tempest==46.0.0\n")
    assert ensure_tempest(venv, "/opt/uv", log=lambda _: None, lock=other, run=run) is True


def test_the_venv_defaults_under_the_state_directory(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STACKDRILL_TEMPEST_VENV", raising=False)
    assert venv_path(None, tmp_path) == tmp_path / "tempest" / "venv"
    monkeypatch.setenv("STACKDRILL_TEMPEST_VENV", "/srv/tempest")
    assert venv_path(None, tmp_path) == Path("/srv/tempest")
    assert venv_path("/opt/t", tmp_path) == Path("/opt/t")


def test_tempest_install_installs_into_the_venv_named(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    installed: list[tuple[Path, str]] = []
    monkeypatch.setattr("stackdrill.cloud.tempest.install.ensure_tempest",
                        lambda venv, uv: installed.append((venv.path, uv)) or True)
    monkeypatch.setattr("stackdrill.cli.tempest.find_uv", lambda: "/opt/uv")
    assert cli.main(["tempest", "install", "--venv", str(tmp_path / "t")]) == cli.EXIT_OK
    assert installed == [(tmp_path / "t", "/opt/uv")]
    assert cli.main(["tempest"]) == cli.EXIT_BAD_INPUT
    assert capsys.readouterr().err.count("\n") == 1


def test_no_catalog_no_cloud_answer_is_one_line(tmp_path: Path) -> None:
    redactor = Redactor()
    access = FakeAccess(redactor)

    def refuse(_: Any) -> Any:
        raise RuntimeError("Unable to establish connection to http://192.0.2.10:5000/v3\nmore")

    access.conn.session.auth.get_access = refuse
    job = TempestJob(TempestSpec(), fake_venv(tmp_path), tmp_path / "ws")
    with pytest.raises(TempestError) as raised:
        verify(access, job, "x", Evidence(redactor))  # type: ignore[arg-type]
    assert str(raised.value) == ("Tempest's configuration: the cloud did not answer: Unable to "
                                 "establish connection to http://192.0.2.10:5000/v3")
