@drill @lab @network @wip
Feature: Network partitions, packet loss, frozen services and full disks
  A cloud's worst days are partial failures: a compute that lost its message queue but still
  runs its guests, a controller reachable from some hosts and not others, a lossy management
  network, a daemon that hangs with its sockets open, a full instances filesystem.
  Written with the faults; not yet run on the lab (@wip).

  Background:
    Given the canary workload is running
    And a compute host running qemu domains
    And a controller host
    And a storage host
    And the cloud is in its verified state

  Scenario: a compute is cut off from RabbitMQ and its guests keep running
    Given the safeguards:
      | path                     | check | grace |
      | host:*/domain:*/qemu_pid | exact | 0     |
    When the fault "partition" is injected on the compute host:
      | peers | role:controller |
      | ports | 5672            |
    Then the fault is confirmed within 30 seconds
    And the state deviates from the verified state within 60 seconds at:
      | path                               |
      | host:*/amqp:nova-compute/connected |
      | cloud/service:nova-compute@*/state |
    And the state still matches the verified state at:
      | path                     |
      | host:*/domain:*/qemu_pid |
    When the fault "partition" ends
    And the recovery "restart_services" runs on the compute host:
      | services | nova-compute |
    Then the cloud is back to its verified state within 180 seconds

  Scenario: a storage host is cut off from the controller and the guests' I/O goes on
    When the fault "partition" is injected on the storage host:
      | peers | role:controller |
    Then the fault is confirmed within 30 seconds
    And the state deviates from the verified state within 60 seconds at:
      | path                                |
      | cloud/service:cinder-volume@*/state |
    And the state still matches the verified state at:
      | path                     |
      | host:*/domain:*/qemu_pid |
    When the fault "partition" ends
    Then the cloud is back to its verified state within 180 seconds

  @allow_down_compute_2
  Scenario: the controller is isolated from every compute, then healed
    When the fault "partition" is injected on the controller host:
      | peers | role:compute |
    Then the fault is confirmed within 30 seconds
    And the state deviates from the verified state within 60 seconds at:
      | path                               |
      | cloud/service:nova-compute@*/state |
    When the fault "partition" ends
    Then the cloud is back to its verified state within 240 seconds
    And the state still matches the verified state at:
      | path                  |
      | cloud/server:*/host   |
      | cloud/server:*/status |

  Scenario: 30 % packet loss on the controller's management interface
    When the fault "packet_loss" is injected on the controller host:
      | percent   | 30   |
      | interface | eth0 |
    Then the fault is confirmed within 60 seconds
    And the state still matches the verified state at:
      | path                  |
      | cloud/server:*/status |
    When the fault "packet_loss" ends
    Then the cloud is back to its verified state within 180 seconds

  Scenario: a frozen nova-conductor is found by its process state and restarted
    When the fault "freeze_service" is injected on the controller host:
      | service | nova-conductor |
    Then the fault is confirmed within 30 seconds
    And the state deviates from the verified state within 60 seconds at:
      | path                                 |
      | cloud/service:nova-conductor@*/state |
    When the recovery "restart_frozen_service" runs on the controller host:
      | service | nova-conductor |
    Then the cloud is back to its verified state within 180 seconds

  Scenario: the instances filesystem of a compute fills up
    When the fault "disk_fill" is injected on the compute host:
      | path    | /var/lib/nova/instances |
      | percent | 99                      |
    Then the fault is confirmed within 120 seconds
    And the state deviates from the verified state within 60 seconds at:
      | path                                           |
      | host:*/fs:/var/lib/nova/instances/used_percent |
    When the fault "disk_fill" ends
    Then the cloud is back to its verified state within 120 seconds
