"""How stackdrill reaches the cloud's APIs and database, and the canary workload it keeps there
(its Swift canaries' replicas included)."""
