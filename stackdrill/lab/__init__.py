"""The embedded lab: a small OpenStack-shaped cloud of systemd-nspawn hosts on one machine, and
its power driver (registered through the ``stackdrill.plugins`` entry point). May import any
layer below it; only the front doors, ``cli`` and ``pytest_plugin``, import the lab."""
