@drill @lab @block_storage
Feature: iSCSI sessions between the computes and the storage host drop
  Cinder's volumes are iSCSI LUNs exported by the storage host; each guest's disk rides on an
  iSCSI session. When sessions drop, guest I/O stalls until they are back. The data written
  before the fault must read back through the guests' own disks afterwards.

  Background:
    Given the canary workload is running
    And a storage host
    And each canary volume holds a known pattern
    And the cloud is in its verified state

  Scenario: the target drops the sessions and keeps the initiators out
    When the fault "drop_iscsi_sessions" is injected on the storage host:
      | method  | target                                 |
      | targets | iqn.2010-10.org.openstack:volume-*     |
      | hold    | yes                                    |
    Then the fault is confirmed within 20 seconds
    And the state deviates from the verified state within 30 seconds at:
      | path                                 |
      | host:*/iscsi_target:*/initiators     |
      | host:*/iscsi_target:*/sessions       |
    When the recovery "restore_iscsi_sessions" runs on the storage host:
      | targets | iqn.2010-10.org.openstack:volume-* |
    Then the cloud is back to its verified state within 120 seconds
    And each canary volume reads back its pattern through its guest's disk
    And the tenants saw at most 90 seconds of volume I/O stall, at most 10 seconds of heartbeat stall, no reboot and no lost write
    And every API was unavailable for at most 30 seconds

  Scenario: the network cuts the computes off the iSCSI portal
    When the fault "drop_iscsi_sessions" is injected on the storage host:
      | method  | network                            |
      | targets | iqn.2010-10.org.openstack:volume-* |
    Then the fault is confirmed within 10 seconds
    And the state deviates from the verified state within 60 seconds at:
      | path                               |
      | host:*/iscsi_portal:*/connections  |
    When the recovery "restore_iscsi_sessions" runs on the storage host:
      | targets | iqn.2010-10.org.openstack:volume-* |
    Then the cloud is back to its verified state within 120 seconds
    And each canary volume reads back its pattern through its guest's disk
    And the tenants saw at most 90 seconds of volume I/O stall, at most 10 seconds of heartbeat stall, no reboot and no lost write
    And every API was unavailable for at most 30 seconds
