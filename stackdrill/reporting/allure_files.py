"""The Allure results' environment (cloud, OpenStack API versions, the OpenStack services'
releases, stackdrill version) and the categories that separate why drills failed."""

from __future__ import annotations

import json
import platform
from collections.abc import Mapping
from pathlib import Path

CATEGORIES = [
    {"name": "aborted by safeguard", "matchedStatuses": ["failed", "broken"],
     "messageRegex": ".*aborted by safeguard: .*"},
    {"name": "fault not confirmed", "matchedStatuses": ["failed"],
     "messageRegex": ".*fault not confirmed.*"},
    {"name": "recovery failed", "matchedStatuses": ["failed"],
     "messageRegex": ".*recovery [^ ]+, step .*"},
    {"name": "budget exceeded", "matchedStatuses": ["failed"],
     "messageRegex": ".*not back to the verified state within.*"},
    {"name": "refused to start", "matchedStatuses": ["failed"],
     "messageRegex": ".*(not starting from a healthy cloud|cannot record the verified state|"
                     "refused).*"},
    {"name": "harness error", "matchedStatuses": ["broken"]},
]


def write_allure_files(directory: Path, *, cloud: str | None, stackdrill: str | None,
                       openstack: Mapping[str, str] | None,
                       services: Mapping[str, str | Mapping[str, str]] | None = None,
                       seed: int | None = None) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    environment = {"cloud": cloud or "none", "stackdrill": stackdrill or "unknown",
                   "python": platform.python_version()}
    if seed is not None:  # the run chose hosts at random: --seed replays its choices
        environment["seed"] = str(seed)
    for service, version in sorted((openstack or {}).items()):
        environment[f"openstack.{service}"] = version
    for service, release in (services or {}).items():
        if isinstance(release, str):
            environment[service] = release
        else:
            environment.update({f"{service}@{host}": value for host, value in release.items()})
    (directory / "environment.properties").write_text(
        "".join(f"{key}={value}\n" for key, value in environment.items()))
    (directory / "categories.json").write_text(json.dumps(CATEGORIES, indent=2))
