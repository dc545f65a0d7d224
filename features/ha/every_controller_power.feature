@drill @lab @ha @long @allow_down_controller_3 @allow_down_galera_3 @allow_down_rabbitmq_3
Feature: Every controller loses power, and Galera is bootstrapped from its most advanced member
  The recovery operators dread: every member of the Galera cluster went down at once, so none
  can join another. Their MariaDB and RabbitMQ are held at boot, as a data centre holds
  services before it brings a cloud back in order, and the operators' procedure runs: read each
  member's grastate.dat, recover the position of each member whose seqno is -1
  (galera_recovery), bootstrap from the highest seqno (galera_new_cluster), start the others;
  start RabbitMQ's members together (each waits for its peers at boot); then the controllers'
  services in the order of Table 11-1 (stackdrill/hostkit/priorities/ops-guide-table-11-1-ha.yaml).
  The evidence of the bootstrap step holds each member's seqno and safe_to_bootstrap flag, and
  why the chosen one won. The computes and the storage keep their power: the guests run on.
  Each member's grastate.dat flag while it runs is what Galera last wrote, and the bootstrap
  marks the chosen member; keepalived's first master and the quorum queues' leaders are
  wherever they come back: those may differ from the verified state.

  Background:
    Given the canary workload is running
    And a controller host
    And the cloud is in its verified state

  Scenario: power returns to every controller; Galera is bootstrapped, RabbitMQ started together, then the services in order
    When the fault "hold_services_at_boot" is injected on every controller host:
      | order | ops-guide-table-11-1-ha |
    Then the faults are confirmed within 30 seconds
    When the fault "power_off_host" is injected on every controller host
    Then the faults are confirmed within 60 seconds
    When the fault "power_off_host" ends
    Then the state deviates from the verified state within 300 seconds at:
      | path                         |
      | host:*/galera:mysqld         |
      | cloud/probe:rabbitmq_cluster |
    When the verified state from now on tolerates:
      | rule                                             |
      | host:*/galera:grastate/safe_to_bootstrap present |
      | cloud/vip:*/host:*/holds present                 |
      | cloud/rabbitmq:queue:*/leader present            |
    And the recovery "bootstrap_galera" runs on the controller host
    And the recovery "start_rabbitmq_cluster" runs on the controller host
    And the recovery "restore_in_priority_order" runs on the controller host:
      | order | ops-guide-table-11-1-ha |
    Then the cloud is back to its verified state within 300 seconds
    And the tenants saw no reboot and no lost write
    And every API was unavailable for at most 300 seconds

  # The stale flag: the controller host's MariaDB is stopped cleanly and its grastate.dat left
  # marked safe_to_bootstrap: 1 (a hand edit of an earlier recovery); the others commit on, then
  # every controller loses power. Bootstrapped from the marked member, the cluster would lose
  # what the others committed since it left, and they could not join it: the drill passes only
  # if the bootstrap follows the seqnos.
  Scenario: the member marked safe_to_bootstrap is behind; Galera is bootstrapped from the highest seqno instead
    When the fault "hold_services_at_boot" is injected on every controller host:
      | order | ops-guide-table-11-1-ha |
    Then the faults are confirmed within 30 seconds
    When the fault "stale_safe_to_bootstrap" is injected on the controller host
    Then the fault is confirmed within 120 seconds
    And the state deviates from the verified state within 60 seconds at:
      | path                          |
      | host:*/galera:mysqld          |
      | host:*/galera:grastate/seqno  |
    When the fault "power_off_host" is injected on every controller host
    Then the faults are confirmed within 60 seconds
    When the fault "power_off_host" ends
    Then the state deviates from the verified state within 300 seconds at:
      | path                         |
      | cloud/probe:rabbitmq_cluster |
    When the verified state from now on tolerates:
      | rule                                             |
      | host:*/galera:grastate/safe_to_bootstrap present |
      | cloud/vip:*/host:*/holds present                 |
      | cloud/rabbitmq:queue:*/leader present            |
    And the recovery "bootstrap_galera" runs on the controller host
    And the recovery "start_rabbitmq_cluster" runs on the controller host
    And the recovery "restore_in_priority_order" runs on the controller host:
      | order | ops-guide-table-11-1-ha |
    Then the cloud is back to its verified state within 300 seconds
    And the tenants saw no reboot and no lost write
    And every API was unavailable for at most 300 seconds
