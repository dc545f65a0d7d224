@drill @lab @disaster @long @allow_down_compute_2 @allow_down_storage_2
Feature: Everything loses power and the cloud is restored in priority order
  The operations guide, "Handling a Complete Failure": "assign each service a priority, and
  restore in order" (Table 11-1). The services are held at boot, as a data centre does before it
  powers a cloud back on, so that nothing starts before its turn; the order is a data file
  (stackdrill/hostkit/priorities/ops-guide-table-11-1.yaml). The drill's evidence lists the order
  followed, each service with the time it became active.

  Scenario: power returns and every service is started in the order of Table 11-1
    Given the canary workload is running
    And a controller host
    And each canary volume holds a known pattern
    And the cloud is in its verified state
    And the verified state tolerates:
      | rule                            |
      | host:*/domain:*/qemu_pid ignore |
    When the fault "hold_services_at_boot" is injected on every host:
      | order | ops-guide-table-11-1 |
    Then the faults are confirmed within 30 seconds
    When the fault "power_off_host" is injected on every host
    Then the faults are confirmed within 60 seconds
    When the fault "power_off_host" ends
    Then the state deviates from the verified state within 300 seconds at:
      | path                            |
      | host:*/unit:nova-compute/active |
      | host:*/unit:mariadb/active      |
    When the recovery "restore_in_priority_order" runs on the controller host:
      | order | ops-guide-table-11-1 |
    Then the cloud is back to its verified state within 900 seconds
    And each canary volume reads back its pattern through its guest's disk
    And each canary saw at most 2 reboots and no lost write
    And the canaries' heartbeats stalled for at most 900 seconds
    And every API was unavailable for at most 600 seconds
