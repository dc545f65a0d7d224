@drill @lab @compute
Feature: A compute node reboots
  The operations guide, "After a Compute Node Reboots": verify it booted, that nova-compute
  runs and reconnected to the message queue, then start the instances that were on it, none
  of which are running.

  Background:
    Given the canary workload is running
    And a compute host running qemu domains
    And the cloud is in its verified state
    And the verified state tolerates:
      | rule                            |
      | host:*/domain:*/qemu_pid ignore |

  Scenario: a compute node is reset and its instances are started again
    When the fault "reboot_host" is injected on the compute host:
      | mode | hard |
    Then the fault is confirmed within 30 seconds
    And the state deviates from the verified state within 90 seconds at:
      | path                        |
      | cloud/agreement:*/nova_only |
    When the recovery "after_compute_reboot" runs on the compute host
    Then the cloud is back to its verified state within 300 seconds
    And each canary saw at most one reboot and no lost write
    And the canaries' heartbeats stalled for at most 180 seconds
    And every API was unavailable for at most 30 seconds

  Scenario: a compute node is reset and an instance's libvirt XML is gone
    The guide: when the XML in /etc/libvirt/qemu no longer exists, nova reboot --hard
    re-creates it. Each fault is confirmed; once the cloud is back, every removed XML must
    exist again, re-created by the recovery: the drill fails if the undo would have to put
    one back.

    When the fault "remove_files" is injected on the compute host:
      | path               | /etc/libvirt/qemu/instance-*.xml |
      | recovery_recreates | yes                              |
    Then the fault is confirmed within 10 seconds
    When the fault "reboot_host" is injected on the compute host:
      | mode | hard |
    Then the fault is confirmed within 30 seconds
    And the state deviates from the verified state within 90 seconds at:
      | path                        |
      | cloud/agreement:*/nova_only |
    When the recovery "after_compute_reboot" runs on the compute host
    Then the cloud is back to its verified state within 300 seconds
    And each canary saw at most one reboot and no lost write
    And the canaries' heartbeats stalled for at most 180 seconds
    And every API was unavailable for at most 30 seconds
