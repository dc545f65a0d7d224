@drill @lab @ha @long
Feature: One controller of three loses power
  Three controllers run the APIs behind HAProxy and a keepalived VIP, with a Galera cluster and
  a RabbitMQ cluster across them. When the controller holding the VIP loses power, keepalived
  moves the VIP to another controller, HAProxy stops sending requests to the lost one, Galera
  and RabbitMQ keep their quorum (two of three), and the APIs keep answering. When its power
  returns, the controller rejoins: Galera catches it up by IST, RabbitMQ takes it back, HAProxy
  marks its servers up again. keepalived does not preempt: the VIP stays where it went.

  Scenario: the controller holding the VIP loses power; the VIP moves, the APIs keep answering, and it rejoins
    Given the canary workload is running
    And a controller host holding the VIP
    And the cloud is in its verified state
    When the fault "power_off_host" is injected on the controller host
    Then the fault is confirmed within 60 seconds
    And the state deviates from the verified state within 60 seconds at:
      | path                             |
      | cloud/vip:*/host:*/holds         |
      | host:*/galera:wsrep_cluster_size |
      | cloud/rabbitmq:node:*/running    |
      | host:*/haproxy:*/server:*        |
    When the verified state from now on tolerates:
      | rule                                  |
      | cloud/vip:*/host:*/holds present      |
      | cloud/rabbitmq:queue:*/leader present |
    And the fault "power_off_host" ends
    And the recovery "rejoin_controller" runs on the controller host
    Then the cloud is back to its verified state within 180 seconds
    And the tenants saw no reboot and no lost write
    And every API was unavailable for at most 30 seconds
