"""The contracts that faults, recoveries and probes implement, and the one registry door they
come through: ``Fault``, ``Recovery`` and its runbook steps, ``Probe``, the registries, the
pluggy hook specification, and where a class was loaded from (for ``recover --pending``).
May import ``core``, ``inventory``, ``hosts``, ``hostkit`` and ``cloud``."""
