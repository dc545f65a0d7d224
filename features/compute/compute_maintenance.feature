@drill @lab @compute
Feature: A compute node is taken down for planned maintenance
  The operations guide, "Planned Maintenance": move every instance off the node (live migration,
  as the computes share /var/lib/nova/instances), stop nova-compute, shut the node down and turn
  it back on, start nova-compute, and migrate the instances back. The compute service is
  disabled in the scheduler for the whole window. No fault: the procedure is the drill, and the
  cloud must end exactly where it began.

  Scenario: the instances are live-migrated off, the node rebooted, and the instances brought back
    Given the canary workload is running
    And a compute host running qemu domains
    And each canary volume holds a known pattern
    And the cloud is in its verified state
    And the verified state tolerates:
      | rule                            |
      | host:*/domain:*/qemu_pid ignore |
    When the recovery "planned_compute_maintenance" runs on the compute host:
      | migration | live |
    Then the cloud is back to its verified state within 120 seconds
    And each canary volume reads back its pattern through its guest's disk
    And the tenants saw at most 60 seconds of volume I/O stall, at most 30 seconds of heartbeat stall, no reboot and no lost write
    And every API was unavailable for at most 30 seconds
