@upgrade @drill @lab
Feature: A cloud upgrade keeps the workload and the verified state
  Before an upgrade, "stackdrill run --phase pre-upgrade" checks that nothing needs cleaning
  (instances without their hypervisor's domain and the reverse, deleted instances left on a
  compute, services down, online data migrations pending: each a deviation to fix first), then
  runs the canary workload, records the verified state and the service versions, and stores
  them for this cloud. After the upgrade, "stackdrill run --phase post-upgrade" creates
  nothing: the same canaries must still run where they ran, and the cloud must match its
  recorded state. Service versions may change; anything else that changed is a deviation.
  (@drill: both phases hold the cloud's drill lock.)

  @pre_upgrade
  Scenario: the state before the upgrade is recorded
    Given the cloud needs no cleaning before the upgrade
    And the canary workload is running
    And the cloud is in its verified state
    Then the pre-upgrade state is recorded

  @post_upgrade
  Scenario: the cloud matches its pre-upgrade state
    Given the pre-upgrade state is recorded
    Then the same canaries still run where they ran
    And the cloud matches its pre-upgrade state within 300 seconds
