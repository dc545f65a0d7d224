"""stackdrill: chaos and recovery drills for OpenStack clouds.

The packages are layers, each importing only itself and those before it in this list:
``core``, ``inventory``, ``hosts``, ``hostkit``, ``cloud``, ``api``, ``engine``, ``reporting``,
``lab``, then the two front doors ``cli`` and ``pytest_plugin`` (the only ones that import the
lab). ``builtin`` holds the built-in faults, recoveries, probes and steps.
``tests/unit/test_architecture.py`` holds the tree to it.
"""
