"""The CI templates, read as their tools read them (YAML) and checked against the conventions
they follow: the Zuul job family stacks DevStack before it drills, keeps every report through
zuul_copy_output and passes absolute paths; the GitHub workflow runs on a supported Ubuntu with
least privilege and SHA-pinned actions, and publishes every report. Neither Zuul, Ansible nor
DevStack runs here."""

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
DATA = "{{ stackdrill_data_dir }}"
BASE_DIR = "{{ devstack_base_dir | default('/opt/stack') }}/"


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def zuul(kind: str) -> dict[str, dict[str, Any]]:
    return {entry[kind]["name"]: entry[kind] for entry in load(ZUUL)
            if kind in entry and "name" in entry[kind]}


def command_tasks(playbook: Path) -> Iterator[dict[str, Any]]:
    for play in load(playbook):
        for task in play.get("tasks", []):
            for module in ("ansible.builtin.command", "ansible.builtin.shell"):
                if isinstance(task.get(module), dict):
                    yield task[module]


def stackdrill_words(command: str) -> list[str]:
    """The words of a templated ``stackdrill`` command, each Jinja expression a word ("1",
    which every option stackdrill takes accepts)."""
    text = re.sub(r"\{%.*?%\}", " ", command, flags=re.DOTALL)
    text = re.sub(r"\{\{.*?\}\}", "1", text, flags=re.DOTALL)
    words = shlex.split(text)
    start = next(i for i, word in enumerate(words) if word.endswith("/bin/stackdrill"))
    return words[start + 1:]


def run_task() -> dict[str, Any]:
    return next(task for task in command_tasks(PLAYBOOKS / "run.yaml")
                if " run features " in task["cmd"])


def option(command: str, name: str) -> str:
    match = re.search(rf"{name} (\{{\{{.*?\}}\}}\S*|\S+)", command)
    assert match is not None, f"{name} not in {command}"
    return match.group(1)


@pytest.mark.parametrize("path", [WORKFLOW, ZUUL, PLAYBOOKS / "run.yaml",
                                  PLAYBOOKS / "post.yaml"], ids=lambda p: p.name)
def test_templates_parse(path: Path) -> None:
    assert load(path)


def test_the_zuul_jobs_are_an_abstract_devstack_child_and_two_variants() -> None:
    jobs = zuul("job")
    base = jobs["stackdrill-devstack-base"]
    assert base["parent"] == "devstack"
    assert base["abstract"] is True
    assert {"zuul": "opendev.org/openstack/devstack"} in base["roles"]
    assert "opendev.org/openstack/devstack" in base["required-projects"]
    assert base["irrelevant-files"]
    assert (ROOT / base["run"]).is_file() and (ROOT / base["post-run"]).is_file()
    assert base["vars"]["stackdrill_tags"] == "devstack"
    assert base["vars"]["devstack_services"]["stackdrill"] is True
    assert "stackdrill" in base["vars"]["devstack_plugins"]
    assert jobs["stackdrill-devstack"]["parent"] == "stackdrill-devstack-base"
    multinode = jobs["stackdrill-devstack-multinode"]
    assert multinode["parent"] == "stackdrill-devstack-base"
    nodeset = zuul("nodeset")[multinode["nodeset"]]
    assert [node["name"] for node in nodeset["nodes"]] == ["controller", "compute1"]
    groups = {group["name"]: group["nodes"] for group in nodeset["groups"]}
    assert groups["subnode"] == ["compute1"]
    assert set(groups["compute"]) == {"controller", "compute1"}
    project = next(entry["project"] for entry in load(ZUUL) if "project" in entry)
    for pipeline in ("check", "periodic"):
        assert set(project[pipeline]["jobs"]) == {"stackdrill-devstack",
                                                  "stackdrill-devstack-multinode"}


def test_the_subnodes_do_not_install_the_plugin() -> None:
    subnode = zuul("job")["stackdrill-devstack-base"]["group-vars"]["subnode"]
    assert subnode["devstack_plugins"]["stackdrill"] == ""
    assert subnode["devstack_services"]["stackdrill"] is False


def test_the_run_playbook_stacks_devstack_before_anything_else() -> None:
    plays = load(PLAYBOOKS / "run.yaml")
    first = plays[0]
    assert first["hosts"] == "all"
    assert first["strategy"] == "linear"
    assert first["roles"] == ["orchestrate-devstack"]
    assert "tasks" not in first and "pre_tasks" not in first
    drills = [i for i, play in enumerate(plays)
              for task in play.get("tasks", []) if " run features " in str(task)]
    assert drills and min(drills) > 0


def test_the_data_directory_is_absolute_and_the_plugin_uses_it() -> None:
    variables = zuul("job")["stackdrill-devstack-base"]["vars"]
    assert variables["stackdrill_data_dir"] == BASE_DIR + "data/stackdrill"
    assert variables["stackdrill_dir"] == BASE_DIR + "stackdrill"
    assert variables["devstack_localrc"]["STACKDRILL_DATA_DIR"] == DATA


@pytest.mark.parametrize("playbook", ["run.yaml", "post.yaml"])
def test_no_path_is_relative_to_a_directory_that_is_also_named(playbook: str) -> None:
    """A task run in ``chdir`` D names no path under D again (the doubled path of old), and
    every file it writes or reads is under the job's absolute data directory."""
    for play in load(PLAYBOOKS / playbook):
        variables = play.get("vars", {})
        for task in play.get("tasks", []):
            module = task.get("ansible.builtin.command") or task.get("ansible.builtin.shell")
            if not isinstance(module, dict):
                continue
            command = module["cmd"]
            if "chdir" in module:
                assert module["chdir"] not in command
            for name in ("--inventory", "--reports", "--history", "--journal", "--output",
                         "--ssh-key", "--known-hosts"):
                if f"{name} " not in command:
                    continue
                value = option(command, name)
                named = re.fullmatch(r"\{\{ (stackdrill_\w+) \| quote \}\}", value)
                if named is not None:
                    value = variables[named.group(1)]
                assert value.startswith(DATA + "/"), (name, command)


def test_copy_output_keeps_what_the_drills_write() -> None:
    copy = zuul("job")["stackdrill-devstack-base"]["vars"]["zuul_copy_output"]
    command = run_task()["cmd"]
    for name in ("--reports", "--history", "--journal"):
        assert copy[option(command, name)] == "logs"
    assert set(copy) == {f"{DATA}/reports", f"{DATA}/history.jsonl", f"{DATA}/journal.jsonl",
                         f"{DATA}/inventory.yaml"}


def test_the_drills_run_from_the_checkout_with_arguments_stackdrill_accepts() -> None:
    task = run_task()
    assert task["chdir"] == "{{ stackdrill_dir }}"
    args = _parser().parse_args(stackdrill_words(task["cmd"]))
    assert args.command == "run"
    assert args.paths == ["features"]
    inventory = next(task for task in command_tasks(PLAYBOOKS / "run.yaml")
                     if "inventory devstack" in task["cmd"])
    written = _parser().parse_args(stackdrill_words(inventory["cmd"]))
    assert written.inventory_action == "devstack"
    post = next(command_tasks(PLAYBOOKS / "post.yaml"))
    assert _parser().parse_args(stackdrill_words(post["cmd"])).command == "report"


def workflow_steps() -> list[dict[str, Any]]:
    return [step for job in load(WORKFLOW)["jobs"].values() for step in job["steps"]]


def test_the_workflow_runs_on_a_supported_ubuntu_with_least_privilege() -> None:
    workflow = load(WORKFLOW)
    assert workflow["permissions"] == {}
    for job in workflow["jobs"].values():
        assert job["runs-on"] == "ubuntu-24.04"
        assert job["permissions"] == {"contents": "read"}
    checkout = next(step for step in workflow_steps()
                    if step.get("uses", "").startswith("actions/checkout@"))
    assert checkout["with"]["persist-credentials"] is False


def test_every_action_is_pinned_by_a_full_commit_sha_with_its_tag_beside_it() -> None:
    uses = [line for line in WORKFLOW.read_text().splitlines() if "uses:" in line]
    assert uses
    for line in uses:
        assert re.search(r"uses: [\w.-]+/[\w.-]+@[0-9a-f]{40}\s+# v\d+(\.\d+)*$", line), line


def test_the_workflow_stacks_devstack_with_the_plugin_and_never_the_lab() -> None:
    text = WORKFLOW.read_text()
    assert "enable_plugin stackdrill" in text
    assert "stack.sh" in text
    assert not re.search(r"scripts/setup(?! --client)", text)
    assert "MYSQL_SERVICE_NAME" not in text  # no second database server to avoid any more


def test_the_workflow_publishes_every_report() -> None:
    upload = next(step for step in workflow_steps()
                  if step.get("uses", "").startswith("actions/upload-artifact@"))
    assert upload["if"] == "always()"
    paths = upload["with"]["path"].split()
    for kept in ("reports", "history.jsonl", "journal.jsonl"):
        assert any(path.endswith(kept) for path in paths), kept
    run = next(step["run"] for step in workflow_steps() if " run features " in step.get("run", ""))
    words = shlex.split(run.replace('"$STACKDRILL_DATA_DIR', '"/data'))
    args = _parser().parse_args(words[words.index(".venv/bin/stackdrill") + 1:])
    assert args.tags == "devstack"
    assert (args.reports, args.history, args.journal) == (
        "/data/reports", "/data/history.jsonl", "/data/journal.jsonl")


def test_the_devstack_guide_commands_parse() -> None:
    guide = (ROOT / "docs" / "devstack.md").read_text().replace("\\\n", " ")
    lines = re.findall(r"^\s*\.venv/bin/stackdrill (?:run|plan|inventory) .*", guide,
                       flags=re.MULTILINE)
    assert len(lines) >= 3
    for line in lines:
        words = shlex.split(line)
        start = next(i for i, word in enumerate(words) if word.endswith("stackdrill"))
        _parser().parse_args(words[start + 1:])


def test_devstack_marker_is_registered() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    markers = config["tool"]["pytest"]["ini_options"]["markers"]
    assert any(marker.startswith("devstack:") for marker in markers)
