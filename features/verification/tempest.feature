@drill @lab @long @tempest
Feature: Tempest's smoke tests pass on a fresh cloud and after each recovery
  stackdrill's verified state is its own judgement; Tempest, OpenStack's functional test suite,
  is the ecosystem's. Its smoke tests of the services the cloud runs (compute, identity, image,
  object storage, volume; not network: the lab's servers have none) run once on the cloud as it
  is, then after four recoveries: a compute's libvirtd killed, RabbitMQ stopped, the database
  stopped, the controller reset. Each passes only if at least one test ran and none failed;
  Tempest's skips (with its reasons) are in the evidence.

  Background:
    Given the canary workload is running
    And the cloud is in its verified state

  Scenario: the cloud as it is passes Tempest's smoke tests
    Then Tempest's "^tempest\.api\.(compute|identity|image|object_storage|volume)\..*\bsmoke\b" tests pass

  Scenario: after libvirtd is killed on a compute and restarted, Tempest's smoke tests pass
    Given a compute host
    When the fault "kill_service" is injected on the compute host:
      | service   | libvirtd |
      | signal    | SIGKILL  |
      | keep_down | yes      |
    Then the fault is confirmed within 10 seconds
    When the recovery "restart_services" runs on the compute host:
      | services | libvirtd |
    Then the cloud is back to its verified state within 300 seconds
    And Tempest's "^tempest\.api\.(compute|identity|image|object_storage|volume)\..*\bsmoke\b" tests pass

  Scenario: after RabbitMQ is stopped and restarted, Tempest's smoke tests pass
    Given a controller host
    When the fault "stop_service" is injected on the controller host:
      | service | rabbitmq |
    Then the fault is confirmed within 60 seconds
    When the recovery "restart_rabbitmq" runs on the controller host
    Then the cloud is back to its verified state within 240 seconds
    And Tempest's "^tempest\.api\.(compute|identity|image|object_storage|volume)\..*\bsmoke\b" tests pass

  Scenario: after the database is stopped and restarted, Tempest's smoke tests pass
    Given a controller host
    When the fault "stop_service" is injected on the controller host:
      | service | mariadb |
    Then the fault is confirmed within 120 seconds
    When the recovery "restart_database" runs on the controller host
    Then the cloud is back to its verified state within 240 seconds
    And Tempest's "^tempest\.api\.(compute|identity|image|object_storage|volume)\..*\bsmoke\b" tests pass

  Scenario: after the controller is reset, Tempest's smoke tests pass
    Given a controller host
    When the fault "reboot_host" is injected on the controller host:
      | mode | hard |
    Then the fault is confirmed within 30 seconds
    When the recovery "after_controller_reboot" runs on the controller host
    Then the cloud is back to its verified state within 300 seconds
    And Tempest's "^tempest\.api\.(compute|identity|image|object_storage|volume)\..*\bsmoke\b" tests pass
