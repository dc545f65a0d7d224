@long @upgrade @drill @lab
Feature: An upgrade whose database synchronisation fails is rolled back from the backup
  The operations guide: "it is critical to ensure that database changes are successful
  otherwise an inconsistent cluster state could arise". Here they are not: the control plane is
  upgraded, and the database stops half way through Nova's db sync, after cell0's schema moved
  to the new release and before the cell's did. The way back is the backup taken before the
  upgrade: every database loaded from its dump, the configuration put back, the previous release
  installed again, the services started. The cloud must then be in its pre-upgrade state, the
  canaries running on the hosts they ran on. "stackdrill run --phase failed-upgrade" runs it,
  on a cloud whose inventory says how to install each release (upgrade.install and
  upgrade.install_previous: a lab brought up with --release previous does). The budget: the
  rollback measured 183 s and 276 s on the 2-CPU lab, most of it the services' start and the
  wait for Nova's and Cinder's to report up.

  @failed_upgrade
  Scenario: the database stops during Nova's db sync, and the upgrade is rolled back
    Given the canary workload is running
    And a controller host
    And the cloud is in its verified state
    When the procedure "back_up_control_plane" runs on the controller host
    And the fault "interrupt_db_sync" is injected on the controller host:
      | service | nova            |
      | table   | nova.migrations |
    Then the fault is confirmed within 60 seconds
    When the recovery "roll_back_upgrade" runs on the controller host
    Then the cloud is back to its verified state within 420 seconds
    And the tenants saw no reboot and no lost write
