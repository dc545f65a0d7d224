@drill @lab @compute @long
Feature: A compute node fails for good
  The operations guide, "Total Compute Node Failure": "If a compute node fails and won't be fixed
  for a few hours (or at all), you can relaunch all instances that are hosted on the failed node
  if you use shared storage for /var/lib/nova/instances." The lab's computes share that
  directory. The failed host is powered off and stays off while the runbook moves its instances;
  the drill then proves they run on the surviving compute with their volumes and their data,
  and that the cloud is whole again once the host is repaired and powered on.

  Background:
    Given the canary workload is running
    And a compute host running qemu domains
    And each canary volume holds a known pattern
    And the cloud is in its verified state
    And the verified state tolerates:
      | rule                            |
      | host:*/domain:*/qemu_pid ignore |

  Scenario: the failed compute's instances are evacuated to the surviving compute
    The admin guide's "Evacuate instances". Nova only evacuates from a compute it sees down;
    once the host returns, its nova-compute removes the evacuated instances' domains.

    When the fault "power_off_host" is injected on the compute host
    Then the fault is confirmed within 30 seconds
    And the state deviates from the verified state within 60 seconds at:
      | path                               |
      | cloud/service:nova-compute@*/state |
    When the recovery "evacuate_instances" runs on the compute host
    Then the state deviates from the verified state at:
      | path                |
      | cloud/server:*/host |
    And the state still matches the verified state at:
      | path                        |
      | cloud/server:*/status       |
      | cloud/volume:*/status       |
      | cloud/volume:*/attached_to  |
    And each canary volume reads back its pattern through its guest's disk
    When the verified state from now on tolerates:
      | rule                            |
      | cloud/server:*/host ignore      |
      | cloud/db:instance:*/host ignore |
      | host:*/domain:* ignore          |
      | host:*/iscsi_portal:* ignore    |
    And the fault "power_off_host" ends
    Then the cloud is back to its verified state within 300 seconds
    And each canary saw at most one reboot and no lost write
    And the canaries' heartbeats stalled for at most 300 seconds
    And every API was unavailable for at most 120 seconds

  Scenario: the failed compute's instances are moved in the database and hard-rebooted
    The operations guide's manual path: select the failed host's instances, save their volumes
    with the guide's query, move the rows to the healthy host, "nova reboot --hard" each, then
    reattach the volumes. The canary guest's answer to a hot-unplug is not drilled, so each
    instance is stopped while its volumes are detached and attached again.

    When the fault "power_off_host" is injected on the compute host
    Then the fault is confirmed within 30 seconds
    And the state deviates from the verified state within 60 seconds at:
      | path                               |
      | cloud/service:nova-compute@*/state |
    When the recovery "move_instances_in_database" runs on the compute host:
      | offline | yes |
    Then the state deviates from the verified state at:
      | path                |
      | cloud/server:*/host |
    And the state still matches the verified state at:
      | path                        |
      | cloud/server:*/status       |
      | cloud/volume:*/status       |
      | cloud/volume:*/attached_to  |
    And each canary volume reads back its pattern through its guest's disk
    When the verified state from now on tolerates:
      | rule                            |
      | cloud/server:*/host ignore      |
      | cloud/db:instance:*/host ignore |
      | host:*/domain:* ignore          |
      | host:*/iscsi_portal:* ignore    |
    And the fault "power_off_host" ends
    And the recovery "remove_stale_domains" runs on the compute host
    Then the cloud is back to its verified state within 300 seconds
    And each canary saw at most 2 reboots and no lost write
    And the canaries' heartbeats stalled for at most 300 seconds
    And every API was unavailable for at most 60 seconds
