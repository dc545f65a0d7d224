"""The drill engine: a drill's life (prepare, journal, inject, confirm, recover, verify, undo),
the verified state's comparison, the journal and the lock, the guards and safeguards, the dry
run and the checks at collection, the snapshot fan-out, schedules and the upgrade phases, and
the watch on what the tenants feel with the expectations judged against it.
May import the layers below it (``core`` to ``api``); never ``lab``, ``reporting``, ``cli`` or
``pytest_plugin``."""
