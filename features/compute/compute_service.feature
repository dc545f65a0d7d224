@drill @lab @compute
Feature: nova-compute stops on a compute node
  The compute service stops and stays down (a crash its unit does not restart, a stop by
  mistake). The guests keep running, Nova reports the service down, the monitoring pages for
  it, and the page stops once the service is started again.

  Background:
    Given the canary workload is running
    And a compute host running qemu domains
    And the cloud is in its verified state

  @alerts @long
  Scenario: nova-compute stops; the guests keep running and the monitoring pages for it
    When the fault "stop_service" is injected on the compute host:
      | service | nova-compute |
    Then the fault is confirmed within 10 seconds
    And the state deviates from the verified state within 60 seconds at:
      | path                               |
      | cloud/service:nova-compute@*/state |
    And the state still matches the verified state at:
      | path                     |
      | host:*/domain:*/qemu_pid |
      | cloud/server:*/status    |
    And the alert "NovaComputeDown" fires within 120 seconds
    When the recovery "start_services" runs on the compute host:
      | services | nova-compute |
    Then the cloud is back to its verified state within 120 seconds
    And it clears within 120 seconds of the recovery
    And no other critical alert fires
    And the tenants saw at most 10 seconds of heartbeat stall, no reboot and no lost write
