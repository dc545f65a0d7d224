"""The contracts that faults, recoveries and probes implement, and the one registry door they
come through: ``Fault``, ``Recovery`` and its runbook steps, ``Probe``, the registries, the
pluggy hook specification, where a class was loaded from (for ``recover --pending``), and the
waits of runbook steps.
May import ``core``, ``inventory``, ``hosts``, ``hostkit`` and ``cloud``."""
