@upgrade @drill @lab
Feature: A cloud upgrade keeps the workload and the verified state
  Before an upgrade, "stackdrill run --phase pre-upgrade" checks that nothing needs cleaning
  (instances without their hypervisor's domain and the reverse, deleted instances left on a
  compute, services down, online data migrations pending: each a deviation to fix first), then
  runs the canary workload, records the verified state and the service versions, and stores
  them for this cloud. After the upgrade, "stackdrill run --phase post-upgrade" creates
  nothing: the same canaries must still run where they ran, and the cloud must match its
  recorded state. Service versions may change; a guest live-migrated away and back runs under a
  new qemu process; anything else that changed is a deviation.
  Between them, "stackdrill run --phase upgrade" upgrades the cloud as the operations guide
  says: a backup, the control plane (its services stopped, the new release installed as the
  inventory's upgrade.install says, each db sync in order, the online data migrations), then
  each compute with its instances live-migrated away and back, the canaries running throughout.
  (@drill: every phase holds the cloud's drill lock.)

  @pre_upgrade
  Scenario: the state before the upgrade is recorded
    Given the cloud needs no cleaning before the upgrade
    And the canary workload is running
    And the cloud is in its verified state
    Then the pre-upgrade state is recorded

  @upgrade_procedure
  Scenario: the control plane and then each compute are upgraded with the canaries running
    Given the canary workload is running
    And a controller host
    And each canary volume holds a known pattern
    And the cloud is in its verified state
    And the verified state tolerates:
      | rule                            |
      | host:*/domain:*/qemu_pid ignore |
    When the procedure "back_up_control_plane" runs on the controller host
    And the procedure "upgrade_control_plane" runs on the controller host
    And the procedure "rolling_upgrade_computes" runs on the controller host:
      | migration | live |
    Then the cloud is back to its verified state within 900 seconds
    And each canary volume reads back its pattern through its guest's disk
    And the tenants saw at most 30 seconds of heartbeat stall, no reboot and no lost write

  @post_upgrade
  Scenario: the cloud matches its pre-upgrade state
    Given the pre-upgrade state is recorded
    And the verified state tolerates:
      | rule                            |
      | host:*/domain:*/qemu_pid ignore |
    Then the same canaries still run where they ran
    And the cloud matches its pre-upgrade state within 300 seconds
