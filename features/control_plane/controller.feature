@drill @lab @control_plane
Feature: Cloud controller failures
  The cloud controller runs the APIs, the schedulers, the database and the message queue.
  Running guests must survive its outages, and the operations guide's checks must prove that
  it is back.

  Background:
    Given the canary workload is running
    And a controller host
    And the cloud is in its verified state

  Scenario: the controller reboots gracefully
    When the fault "reboot_host" is injected on the controller host:
      | mode | graceful |
    Then the fault is confirmed within 60 seconds
    And the state deviates from the verified state within 30 seconds at:
      | path    |
      | cloud/* |
    When the recovery "after_controller_reboot" runs on the controller host
    Then the cloud is back to its verified state within 300 seconds
    And the tenants saw at most 10 seconds of heartbeat stall, at most 10 seconds of volume I/O stall, no reboot and no lost write
    And every API was unavailable for at most 120 seconds

  Scenario: the controller is reset (hard reboot)
    When the fault "reboot_host" is injected on the controller host:
      | mode | hard |
    Then the fault is confirmed within 30 seconds
    And the state deviates from the verified state within 30 seconds at:
      | path    |
      | cloud/* |
    When the recovery "after_controller_reboot" runs on the controller host
    Then the cloud is back to its verified state within 300 seconds
    And the tenants saw at most 10 seconds of heartbeat stall, at most 10 seconds of volume I/O stall, no reboot and no lost write
    And every API was unavailable for at most 120 seconds

  @devstack
  Scenario: RabbitMQ stops on the controller
    When the fault "stop_service" is injected on the controller host:
      | service | rabbitmq |
    Then the fault is confirmed within 60 seconds
    And the state deviates from the verified state within 60 seconds at:
      | path                                 |
      | host:*/unit:rabbitmq/active          |
      | host:*/amqp:nova-compute/connected   |
      | cloud/service:nova-compute@*/state   |
    And the state still matches the verified state at:
      | path                     |
      | host:*/domain:*/qemu_pid |
      | cloud/server:*/status    |
    When the recovery "restart_rabbitmq" runs on the controller host
    Then the cloud is back to its verified state within 240 seconds
    And the tenants saw at most 10 seconds of heartbeat stall, no reboot and no lost write
    And every API was unavailable for at most 60 seconds

  @alerts @long
  Scenario: RabbitMQ stops on the controller, and the monitoring pages for it
    Every nova-compute loses its message queue and Nova reports it down: both alerts page,
    and both stop once RabbitMQ is back.

    When the fault "stop_service" is injected on the controller host:
      | service | rabbitmq |
    Then the fault is confirmed within 60 seconds
    And the state deviates from the verified state within 60 seconds at:
      | path                        |
      | host:*/unit:rabbitmq/active |
    And the alert "RabbitMQNodeDown" fires within 60 seconds
    And the alert "NovaComputeDown" fires within 90 seconds
    When the recovery "restart_rabbitmq" runs on the controller host
    Then the cloud is back to its verified state within 240 seconds
    And the alert "RabbitMQNodeDown" clears within 60 seconds of the recovery
    And the alert "NovaComputeDown" clears within 90 seconds of the recovery
    And no other critical alert fires

  Scenario: the database stops on the controller
    When the fault "stop_service" is injected on the controller host:
      | service | mariadb |
    Then the fault is confirmed within 120 seconds
    And the state deviates from the verified state within 30 seconds at:
      | path                      |
      | host:*/unit:mariadb/active |
      | cloud/probe:nova_db       |
    And the state still matches the verified state at:
      | path                     |
      | host:*/domain:*/qemu_pid |
    When the recovery "restart_database" runs on the controller host
    Then the cloud is back to its verified state within 240 seconds
    And the tenants saw at most 10 seconds of heartbeat stall, no reboot and no lost write
    And every API was unavailable for at most 60 seconds
