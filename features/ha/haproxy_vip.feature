@drill @lab @ha
Feature: HAProxy dies on the controller holding the VIP
  keepalived's check script fails once no haproxy process runs on the VIP's holder, which gives
  the VIP up, and another controller's keepalived takes it: the APIs answer again through that
  controller's HAProxy within seconds. keepalived does not preempt: once HAProxy is started
  again, the VIP stays where it went.

  Scenario: HAProxy is killed on the VIP holder and kept down; keepalived moves the VIP
    Given the canary workload is running
    And a controller host holding the VIP
    And the cloud is in its verified state
    When the fault "kill_service" is injected on the controller host:
      | service   | haproxy |
      | keep_down | yes     |
    Then the fault is confirmed within 30 seconds
    And the state deviates from the verified state within 30 seconds at:
      | path                     |
      | cloud/vip:*/host:*/holds |
      | host:*/haproxy:answering |
    When the verified state from now on tolerates:
      | rule                             |
      | cloud/vip:*/host:*/holds present |
    And the recovery "start_services" runs on the controller host:
      | services | haproxy |
    Then the cloud is back to its verified state within 120 seconds
    And the tenants saw no reboot and no lost write
    And every API was unavailable for at most 15 seconds
