"""Host know-how that the built-in faults, recoveries and probes share, as testinfra's
``modules/`` sits beside its ``backend/``: units and services, iSCSI, accounts, the holders of
a disk, restore priorities, boot waits, mounts and Swift disks, the AMQP connection, database
names, tagged iptables rules and host sets, process trees and their states, filesystems' use,
stress-ng runs. May import ``core``, ``inventory`` and ``hosts``; never
the engine, and never a built-in."""
