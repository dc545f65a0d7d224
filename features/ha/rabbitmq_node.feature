@drill @lab @ha
Feature: A RabbitMQ node of three is lost
  oslo.messaging's queues are quorum queues: each has a leader and followers on the three
  nodes, and a majority keeps it available. When one node dies, the queues it led elect new
  leaders among the two others, and nova-compute keeps its connection (to another node) or
  reconnects to another node within seconds: its service never shows down. The leaders do not
  move back when the node returns.

  Scenario: RabbitMQ is killed on a controller and kept down; the quorum queues elect new leaders and nova-compute stays up
    Given the canary workload is running
    And a controller host
    And the cloud is in its verified state
    When the fault "kill_service" is injected on the controller host:
      | service   | rabbitmq |
      | keep_down | yes      |
    Then the fault is confirmed within 60 seconds
    And the state deviates from the verified state within 60 seconds at:
      | path                          |
      | cloud/rabbitmq:node:*/running |
      | cloud/rabbitmq:queue:*/online |
      | cloud/rabbitmq:queue:*/leader |
    And the state still matches the verified state at:
      | path                               |
      | cloud/service:nova-compute@*/state |
    When the verified state from now on tolerates:
      | rule                                  |
      | cloud/rabbitmq:queue:*/leader present |
    And the recovery "rejoin_controller" runs on the controller host
    Then the cloud is back to its verified state within 300 seconds
    And the tenants saw no reboot and no lost write
    And every API was unavailable for at most 30 seconds
