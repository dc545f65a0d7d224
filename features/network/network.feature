@drill @lab @network @long
Feature: Network partitions, packet loss, frozen services and full disks
  A cloud's worst days are partial failures: a compute that lost its message queue but still
  runs its guests, a controller reachable from some hosts and not others, a lossy management
  network, a daemon that hangs with its sockets open, a full instances filesystem.
  The drills take some ten minutes together: they run in the main command (@long).

  Background:
    Given the canary workload is running
    And a compute host running qemu domains
    And a controller host
    And a storage host
    And the cloud is in its verified state

  # A cut TCP connection stays ESTABLISHED until its keepalive gives up, so the compute's own
  # AMQP connection still reads connected: the controller's view (the service and the
  # hypervisor down) is what shows the cut.
  Scenario: a compute is cut off from RabbitMQ and its guests keep running
    Given the safeguards:
      | path                     | check | grace |
      | host:*/domain:*/qemu_pid | exact | 0     |
    When the fault "partition" is injected on the compute host running canary compute1:
      | peers | role:controller |
      | ports | 5672            |
    Then the fault is confirmed within 30 seconds
    And the state deviates from the verified state within 60 seconds at:
      | path                               |
      | cloud/service:nova-compute@*/state |
      | cloud/hypervisor:*/state           |
    And the state still matches the verified state at:
      | path                     |
      | host:*/domain:*/qemu_pid |
    When the fault "partition" ends
    And the recovery "restart_services" runs on the compute host running canary compute1:
      | services | nova-compute |
    Then the cloud is back to its verified state within 180 seconds
    And the tenants saw at most 10 seconds of heartbeat stall, no reboot and no lost write
    And every API was unavailable for at most 180 seconds

  # cinder-volume does not come back by itself once the cut heals (it stayed down for more
  # than 180 s on the lab): as the guide says of the nova services after the controller's
  # trouble, the service is restarted, and so is cinder-backup, which runs beside it on the
  # lab's block storage host and reports its state through the same database connection.
  # Cinder shows the cut only once the services miss their reports (about 100 s), and each
  # restart waits 20 s for the service to stop, hence the 240 s.
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
    And the recovery "restart_services" runs on the storage host:
      | services | cinder-volume, cinder-backup |
    Then the cloud is back to its verified state within 240 seconds
    And the tenants saw at most 10 seconds of volume I/O stall, at most 10 seconds of heartbeat stall, no reboot and no lost write
    And every API was unavailable for at most 60 seconds

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
    And the tenants saw at most 10 seconds of heartbeat stall, no reboot and no lost write
    And every API was unavailable for at most 120 seconds
    And the state still matches the verified state at:
      | path                  |
      | cloud/server:*/host   |
      | cloud/server:*/status |

  # Under the loss an API listing may fail: its values are then unknown, and the check that
  # the servers' status did not change observes them again (up to 60 s) rather than taking
  # them for gone, as it did once (run 20261206T205904Z).
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
    And the tenants saw at most 10 seconds of heartbeat stall, no reboot and no lost write
    And every API was unavailable for at most 60 seconds

  @allow_down_compute_2
  Scenario: 20 % packet loss between 2 computes and the controller; the guests go on
    When the fault "packet_loss" is injected on 2 compute hosts:
      | percent | 20              |
      | peers   | role:controller |
    Then the faults are confirmed within 60 seconds
    And the state still matches the verified state at:
      | path                     |
      | cloud/server:*/status    |
      | host:*/domain:*/qemu_pid |
    When the fault "packet_loss" ends
    Then the cloud is back to its verified state within 180 seconds
    And the tenants saw at most 10 seconds of heartbeat stall, no reboot and no lost write
    And every API was unavailable for at most 60 seconds

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
    And the tenants saw at most 10 seconds of heartbeat stall, no reboot and no lost write
    And every API was unavailable for at most 60 seconds

  Scenario: the instances filesystem of a compute fills up
    When the fault "disk_fill" is injected on a random compute host:
      | path    | /var/lib/nova/instances |
      | percent | 99.9                    |
    Then the fault is confirmed within 120 seconds
    And the state deviates from the verified state within 60 seconds at:
      | path                                           |
      | host:*/fs:/var/lib/nova/instances/used_percent |
    And a server booted on the compute host fails within 300 seconds saying "No space left on device"
    When the fault "disk_fill" ends
    Then the cloud is back to its verified state within 120 seconds
    And a server booted on the compute host becomes ACTIVE within 300 seconds
    And the tenants saw at most 10 seconds of heartbeat stall, no reboot and no lost write
    And every API was unavailable for at most 60 seconds
