@drill @lab @disaster @long @allow_down_compute_2 @allow_down_storage_2
Feature: The whole cloud loses power
  The admin guide, "Recover cloud after disaster": after a power loss the iSCSI sessions are
  gone, the instances have stopped, and the databases still say every volume is attached. The
  recovery runs the guide's procedure in its exact order.

  Scenario: power returns and the volumes are recovered with the guide's procedure
    Given the canary workload is running
    And a controller host
    And each canary volume holds a known pattern
    And the cloud is in its verified state
    And the verified state tolerates:
      | rule                            |
      | host:*/domain:*/qemu_pid ignore |
    When the fault "power_off_host" is injected on every host
    Then the faults are confirmed within 60 seconds
    When the fault "power_off_host" ends
    Then the state deviates from the verified state within 300 seconds at:
      | path                       |
      | cloud/server:*/power_state |
      | cloud/server:*/status     |
    When the recovery "recover_after_power_loss" runs on the controller host:
      | volumes | stackdrill-canary-* |
    Then the cloud is back to its verified state within 900 seconds
    And each canary volume reads back its pattern through its guest's disk
    And each canary saw at most 2 reboots and no lost write
    And the canaries' heartbeats stalled for at most 900 seconds
    And every API was unavailable for at most 600 seconds
