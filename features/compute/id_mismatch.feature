@drill @lab @compute
Feature: A UID/GID mismatch on a compute node
  The admin guide, "Recover from a UID/GID mismatch": a compute node's libvirt-qemu user and
  kvm group get other IDs than the rest of the cloud's (a reinstall, another configuration
  tool), and the files they owned - instance disks, libvirt's state - now belong to no one on
  that host. The recovery sets the cloud's IDs again, stops the services, gives the files with
  the old IDs to their owner with find, and starts the services.

  Background:
    Given the canary workload is running
    And a compute host running qemu domains
    And the cloud is in its verified state

  Scenario: libvirt-qemu and kvm get other IDs on a compute node
    When the fault "id_mismatch" is injected on the compute host:
      | users  | libvirt-qemu |
      | groups | kvm          |
    Then the fault is confirmed within 30 seconds
    And the state deviates from the verified state within 60 seconds at:
      | path                         |
      | host:*/user:libvirt-qemu/uid |
      | host:*/files/unowned         |
    When the recovery "align_ids" runs on the compute host
    Then the cloud is back to its verified state within 300 seconds
    And the tenants saw at most 10 seconds of heartbeat stall, no reboot and no lost write
    And every API was unavailable for at most 30 seconds
