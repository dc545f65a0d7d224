"""How stackdrill reaches the cloud's APIs and database, the canary workload it keeps there
(its Swift canaries' replicas included), and what its tenants feel (the API sampler). May
import ``core``, ``inventory``, ``hosts`` and ``hostkit``."""
