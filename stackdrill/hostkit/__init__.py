"""Host know-how that the built-in faults, recoveries and probes share, as testinfra's
``modules/`` sits beside its ``backend/``: units and services, iSCSI, accounts, the holders of
a disk, restore priorities, boot waits, mounts and Swift disks, the AMQP connection, database
names, tagged iptables rules and host sets, process trees and their states, filesystems' use,
stress-ng runs, a Galera node's status, a RabbitMQ cluster and its quorum queues, the addresses
a host holds, Galera's bootstrap after every node went down, whether a RabbitMQ cluster is
whole, HAProxy's stats, a cluster's members. May import ``core``, ``inventory`` and ``hosts``; never
the engine, and never a built-in."""
