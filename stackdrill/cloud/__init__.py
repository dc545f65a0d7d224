"""How stackdrill reaches the cloud's APIs and database, and the canary workload it keeps there
(its Swift canaries' replicas included). May import ``core``, ``inventory``, ``hosts`` and
``hostkit``."""
