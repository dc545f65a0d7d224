@drill @lab @object_storage
Feature: A Swift storage node goes down
  The operations guide, "Rebooting a Storage Node": "simply reboot it. Requests for data hosted
  on that node are redirected to other copies while the server is rebooting." And "Shutting
  Down a Storage Node": for a long outage, remove the node from the rings, rebalance, copy the
  rings to the other nodes; when it can rejoin, add it back with its original options.

  Background:
    Given the canary workload is running
    And a storage host
    And the cloud is in its verified state
    And the safeguards:
      | path                          | check | grace |
      | cloud/swift_object:*/readable | exact | 0     |

  Scenario: a storage node reboots and every object stays readable from the other replicas
    No runbook: the guide has nothing to do but reboot. A lab host is back within seconds, too
    soon for the replica counts to drop reliably, so the proof of the fault is the confirmation,
    and it takes the host's boot identity alone: the host answers again, booted anew (its power
    driver seeing it off would prove it went down, not that it rebooted). The safeguard reads
    every canary object through the proxy throughout; one unreadable object aborts the drill.

    When the fault "reboot_host" is injected on the storage host:
      | mode  | graceful      |
      | proof | boot_identity |
    Then the fault is confirmed within 60 seconds
    And the state still matches the verified state at:
      | path                          |
      | cloud/swift_object:*/readable |
    Then the cloud is back to its verified state within 240 seconds
    And the tenants saw at most 120 seconds of volume I/O stall, at most 10 seconds of heartbeat stall, no reboot and no lost write
    And every API was unavailable for at most 60 seconds

  @long
  Scenario: a storage node is down for long, taken out of the rings, and added back
    With two storage nodes of two disks and three replicas, the two devices left cannot hold
    three replicas: the runbook lowers the replica count to two while the node is out, and
    restores three when it returns. Each removal and addition waits until every canary is on
    each device the new rings name.

    When the fault "power_off_host" is injected on the storage host
    Then the fault is confirmed within 30 seconds
    And the state deviates from the verified state within 60 seconds at:
      | path                          |
      | cloud/swift_object:*/replicas |
    When the recovery "remove_storage_node_from_rings" runs on the storage host
    Then the state deviates from the verified state at:
      | path                              |
      | cloud/swift_ring:object/devices   |
      | cloud/swift_object:*/primaries    |
    And the state still matches the verified state at:
      | path                          |
      | cloud/swift_object:*/readable |
    When the fault "power_off_host" ends
    And the recovery "add_storage_node_to_rings" runs on the storage host
    Then the cloud is back to its verified state within 900 seconds
    And the tenants saw at most 300 seconds of volume I/O stall, at most 10 seconds of heartbeat stall, no reboot and no lost write
    And every API was unavailable for at most 60 seconds
