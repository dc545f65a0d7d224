@drill @lab @ha @long @allow_down_controller_3 @allow_down_galera_3 @allow_down_rabbitmq_3
Feature: One controller is cut off from the other two
  A partition leaves one controller alone: its Galera node, without a majority, goes
  non-Primary and refuses writes; RabbitMQ's pause_minority pauses its node; the two others keep
  both clusters' quorum. The drill cuts off a controller that does not hold the VIP, and the VIP
  must stay with the majority (keepalived on the lone controller no longer hears its peers), so
  writes through the VIP go on. After the heal the lone controller catches up, and nothing the
  majority acknowledged meanwhile is lost: each marker written through the API during the cut
  is in every member's own copy of the database.
  The guards count the peers a partition cuts off as under the fault too, hence the raised
  limits; the cut itself leaves a majority of each cluster up.

  Scenario: a controller not holding the VIP is partitioned; the majority keeps writing, and nothing written is lost after the heal
    Given the canary workload is running
    And a controller host not holding the VIP
    And the cloud is in its verified state
    When the fault "partition" is injected on the controller host:
      | peers | cluster:galera |
    Then the fault is confirmed within 30 seconds
    # RabbitMQ sees the cut only when its net tick times out (net_ticktime 60 s: 45 to 75 s);
    # until then the majority's rabbitmqctl waits on the lone node, and the cluster's view is
    # unknown, not yet changed
    And the state deviates from the verified state within 180 seconds at:
      | path                               |
      | host:*/galera:wsrep_cluster_status |
      | host:*/galera:wsrep_cluster_size   |
      | cloud/rabbitmq:node:*/running      |
    # the markers are written through the cloud's API (the VIP); the step names a host only
    # because every procedure runs on one
    When the procedure "write_markers" runs on the controller host:
      | count | 10 |
    Then the state still matches the verified state at:
      | path                     |
      | cloud/vip:*/host:*/holds |
      | cloud/vip:*/holders      |
    When the fault "partition" ends
    And the verified state from now on tolerates:
      | rule                                  |
      | cloud/rabbitmq:queue:*/leader present |
    And the recovery "rejoin_controller" runs on the controller host
    And the recovery "check_markers" runs on the controller host:
      | count | 10 |
    Then the cloud is back to its verified state within 600 seconds
    And the tenants saw no reboot and no lost write
    And every API was unavailable for at most 30 seconds
