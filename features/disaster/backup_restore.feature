@drill @lab @disaster
Feature: The control plane is restored from its backup
  The operations guide's backup and recovery chapter: back up every database with mysqldump and
  the configuration directories of every host; when something the backup holds is lost, stop
  the services that use it, restore it from the backup, and start them again.

  Background:
    Given the canary workload is running
    And a controller host
    And the cloud is in its verified state
    And the verified state tolerates:
      | rule                            |
      | host:*/domain:*/qemu_pid ignore |
    When the procedure "back_up_control_plane" runs on the controller host

  Scenario: a dropped database table is loaded back from the backup
    When the fault "drop_table" is injected on the controller host:
      | database | glance |
      | table    | images |
    Then the fault is confirmed within 10 seconds
    And the state deviates from the verified state within 60 seconds at:
      | path                      |
      | cloud/probe:cloud_images  |
    When the recovery "restore_control_plane" runs on the controller host:
      | services  | glance-api |
      | databases | glance     |
    Then the cloud is back to its verified state within 120 seconds
    And the tenants saw at most 10 seconds of heartbeat stall, no reboot and no lost write
    And every API was unavailable for at most 60 seconds

  Scenario: a deleted service configuration is put back from the backup
    When the fault "remove_files" is injected on the controller host:
      | path | /etc/glance/glance-api.conf |
    And the fault "kill_service" is injected on the controller host:
      | service | glance-api |
    Then the faults are confirmed within 30 seconds
    And the state deviates from the verified state within 60 seconds at:
      | path                      |
      | cloud/probe:cloud_images  |
    When the recovery "restore_control_plane" runs on the controller host:
      | services | glance-api |
      | configs  | glance     |
    Then the cloud is back to its verified state within 120 seconds
    And the tenants saw at most 10 seconds of heartbeat stall, no reboot and no lost write
    And every API was unavailable for at most 60 seconds
