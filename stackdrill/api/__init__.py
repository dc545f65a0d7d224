"""stackdrill's API for drill authors: the one import door for your own faults, recoveries and
probes. Import from here (``from stackdrill.api import Fault, Param, Target``); the names in
``__all__`` are public and kept stable, everything else in stackdrill is internal and may change
between releases, the modules inside this package (``stackdrill.api._fault`` and the others)
included.

What there is:

- **Faults**: :class:`Fault` (plan, prepare, inject, confirm, undo) and :class:`FaultError`.
- **Recoveries**: :class:`Recovery` returns its runbook, a list of :class:`RunbookStep`;
  :class:`RecoveryContext` is what it may use besides its target; a step fails with
  :class:`RecoveryFailed` (or :class:`ResourceFailed`, when waiting longer cannot help).
- **Waiting**: :func:`wait` polls a check until it is true, under the drill's safeguards, and
  fails the step at its timeout. Never sleep for a fixed time.
- **Probes**: :class:`Probe` (one host, a shell fragment and its ``parse``) and
  :class:`CloudProbe` (the cloud's APIs, with :class:`CloudContext` and :func:`run_calls`);
  :class:`ProbeOutput` is a fragment's output, :class:`ProbeFailed` output a probe cannot
  read. :func:`host_path` and :func:`cloud_path` give the paths their values are recorded
  under, as a feature's tables name them.
- **Parameters**: :class:`Param` declares one, parsed from a feature's table by
  :func:`boolean`, :func:`positive_float`, :func:`positive_int`, :func:`signal_name`,
  :func:`word_list` or any callable that raises ``ValueError``; :class:`ParamError` refuses a
  bad one.
- **Hosts**: :class:`Target` (one host: :meth:`Target.run`, :meth:`Target.service`, ...) and
  :class:`Targets` (every host); :class:`Service` is the handle ``target.service(name)`` gives,
  :class:`ServiceStatus` one reading of it; :class:`CommandResult` is what a command did,
  :class:`HostError` a host that failed, :class:`CommandFailed` a checked command that exited
  non-zero.
- **Registration**: :class:`Registries` and :class:`Registry`, which a
  ``pytest_stackdrill_register(registries)`` hook fills, in a ``conftest.py`` or a module that
  a ``stackdrill.plugins`` entry point names.

The package's layer: it may import ``core``, ``inventory``, ``hosts``, ``hostkit`` and
``cloud``; the engine and everything above use its private modules.
"""

from __future__ import annotations

from stackdrill.api._fault import Fault, FaultError
from stackdrill.api._probe import (
    CloudContext,
    CloudProbe,
    Probe,
    ProbeFailed,
    ProbeOutput,
    cloud_path,
    host_path,
    run_calls,
)
from stackdrill.api._registry import Registries, Registry
from stackdrill.api._runbook import (
    Recovery,
    RecoveryContext,
    RecoveryFailed,
    ResourceFailed,
    RunbookStep,
    wait,
)
from stackdrill.core.params import (
    Param,
    ParamError,
    boolean,
    positive_float,
    positive_int,
    signal_name,
    word_list,
)
from stackdrill.hosts.service import Service, ServiceStatus
from stackdrill.hosts.ssh import CommandResult, HostError
from stackdrill.hosts.target import CommandFailed, Target, Targets

__all__ = [
    "CloudContext",
    "CloudProbe",
    "CommandFailed",
    "CommandResult",
    "Fault",
    "FaultError",
    "HostError",
    "Param",
    "ParamError",
    "Probe",
    "ProbeFailed",
    "ProbeOutput",
    "Recovery",
    "RecoveryContext",
    "RecoveryFailed",
    "Registries",
    "Registry",
    "ResourceFailed",
    "RunbookStep",
    "Service",
    "ServiceStatus",
    "Target",
    "Targets",
    "boolean",
    "cloud_path",
    "host_path",
    "positive_float",
    "positive_int",
    "run_calls",
    "signal_name",
    "wait",
    "word_list",
]
