"""The CI templates parse, and run the commands the README documents, with arguments that
stackdrill's command line accepts."""

from __future__ import annotations

import re
import shlex
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from stackdrill.cli import _parser

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / ".github" / "workflows" / "devstack-drills.yaml"
ZUUL = ROOT / ".zuul.yaml"
PLAYBOOKS = ROOT / "playbooks" / "devstack-drills"
README = (ROOT / "README.md").read_text()


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def workflow_commands() -> list[str]:
    workflow = load(WORKFLOW)
    return [step["run"] for job in workflow["jobs"].values() for step in job["steps"]
            if "run" in step]


def playbook_commands() -> list[str]:
    commands = []
    for play in load(PLAYBOOKS / "run.yaml"):
        for task in play["tasks"]:
            if "command" in task:
                commands.append(task["command"])
    return commands


def stackdrill_invocations(commands: list[str]) -> Iterator[list[str]]:
    for command in commands:
        for line in command.splitlines():
            words = shlex.split(re.sub(r"\{\{[^}]*\}\}", "X", line))
            if words and words[0] == "sudo":
                words = words[1:]
            if words and words[0] == ".venv/bin/stackdrill":
                yield words[1:]


@pytest.mark.parametrize("path", [WORKFLOW, ZUUL, PLAYBOOKS / "run.yaml",
                                  PLAYBOOKS / "post.yaml"], ids=lambda p: p.name)
def test_templates_parse(path: Path) -> None:
    assert load(path)


def test_zuul_job_is_a_devstack_child_with_its_playbooks() -> None:
    entries = load(ZUUL)
    jobs = [entry["job"] for entry in entries if "job" in entry]
    assert len(jobs) == 1
    job = jobs[0]
    assert job["parent"] == "devstack"
    assert (ROOT / job["run"]).is_file()
    assert (ROOT / job["post-run"]).is_file()
    assert job["vars"]["stackdrill_tags"] == "devstack"
    project = next(entry["project"] for entry in entries if "project" in entry)
    assert job["name"] in project["check"]["jobs"]


def test_workflow_installs_devstack_and_publishes_allure() -> None:
    workflow = load(WORKFLOW)
    steps = [step for job in workflow["jobs"].values() for step in job["steps"]]
    assert any("stack.sh" in step.get("run", "") for step in steps)
    upload = next(step for step in steps if "upload-artifact" in step.get("uses", ""))
    assert "reports/latest/allure-results" in upload["with"]["path"]
    assert upload["if"] == "always()"


@pytest.mark.parametrize("commands", [workflow_commands, playbook_commands],
                         ids=["github", "zuul"])
def test_commands_are_the_documented_ones(commands: Any) -> None:
    ran = commands()
    assert "scripts/setup" in README and ".venv/bin/stackdrill run" in README
    assert any(re.search(r"(^|\s)scripts/setup(\s|$)", command) for command in ran)
    runs = [words for words in stackdrill_invocations(ran) if words[0] == "run"]
    assert len(runs) == 1
    args = _parser().parse_args(runs[0])
    assert args.command == "run"
    assert args.tags in ("devstack", "X")
    assert args.inventory == "devstack-inventory.yaml"
    assert args.os_cloud == "devstack-admin"


def test_devstack_guide_commands_parse() -> None:
    guide = (ROOT / "docs" / "devstack.md").read_text().replace("\\\n", " ")
    lines = re.findall(r"^\s*\.venv/bin/stackdrill .*", guide, flags=re.MULTILINE)
    assert len(lines) == 2
    for line in lines:
        words = shlex.split(line)
        assert _parser().parse_args(words[1:]).tags == "devstack"


def test_devstack_marker_is_registered() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    markers = config["tool"]["pytest"]["ini_options"]["markers"]
    assert any(marker.startswith("devstack:") for marker in markers)
