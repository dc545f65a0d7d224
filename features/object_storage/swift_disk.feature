@drill @lab @object_storage
Feature: A Swift disk fails
  The operations guide, "Replacing a Swift Disk": unmount the failed disk, put a working one in
  its place, format it as a whole with mkfs.xfs, mount it with mount -a, and let replication
  refill it from the other replicas. The rings are not touched, and every object stays
  readable through the proxy from its other replicas meanwhile.

  Background:
    Given the canary workload is running
    And a storage host
    And the cloud is in its verified state
    And the safeguards:
      | path                          | check | grace |
      | cloud/swift_object:*/readable | exact | 0     |

  @alerts
  Scenario: a Swift disk is pulled and replaced
    The monitoring pages for the unmounted disk, and stops once the new one is mounted.

    When the fault "pull_disk" is injected on the storage host:
      | disk | d1 |
    Then the fault is confirmed within 10 seconds
    And the state deviates from the verified state within 30 seconds at:
      | path                       |
      | host:*/swift_disk:d1/mounted |
    And the state still matches the verified state at:
      | path                          |
      | cloud/swift_object:*/readable |
    And the alert "SwiftDiskUnmounted" fires within 60 seconds
    When the recovery "replace_swift_disk" runs on the storage host:
      | disk | d1 |
    Then the cloud is back to its verified state within 300 seconds
    And it clears within 60 seconds of the recovery
    And no other critical alert fires
    And the tenants saw at most 10 seconds of heartbeat stall, no reboot and no lost write
    And every API was unavailable for at most 30 seconds

  Scenario: a Swift disk fails with I/O errors and is replaced
    Its XFS shuts down ("Filesystem has been shut down"), the object server gets EIO.

    When the fault "disk_io_errors" is injected on the storage host:
      | disk | d2 |
    Then the fault is confirmed within 30 seconds
    And the state deviates from the verified state within 30 seconds at:
      | path                          |
      | host:*/swift_disk:d2/readable |
    And the state still matches the verified state at:
      | path                          |
      | cloud/swift_object:*/readable |
    When the recovery "replace_swift_disk" runs on the storage host:
      | disk | d2 |
    Then the cloud is back to its verified state within 300 seconds
    And the tenants saw at most 10 seconds of heartbeat stall, no reboot and no lost write
    And every API was unavailable for at most 30 seconds
