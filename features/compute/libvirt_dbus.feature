@drill @lab @compute
Feature: libvirtd and dbus failures on a compute node
  A compute node's hypervisor control path is dbus and libvirtd. When either dies, the guests
  must keep running, Nova must notice, and the operator's runbook must bring the node back.

  Background:
    Given the canary workload is running
    And a compute host running qemu domains
    And the cloud is in its verified state

  Scenario: dbus crashes and takes libvirtd down
    The ops guide's story: libvirtd silently died because dbus had crashed, and simply
    starting dbus, then libvirtd, set the chain back on track. systemd-logind gives up too
    while dbus is down (it restarts until its start limit, then stays dead), so it is started
    between them.

    When the fault "kill_service" is injected on the compute host:
      | service   | dbus    |
      | signal    | SIGSEGV |
      | keep_down | yes     |
    Then the fault is confirmed within 10 seconds
    And the state deviates from the verified state within 30 seconds at:
      | path                                |
      | host:*/unit:dbus/active             |
      | host:*/unit:libvirtd/active         |
      | host:*/libvirt/answering            |
      | cloud/service:nova-compute@*/status |
    And the state still matches the verified state at:
      | path                     |
      | host:*/domain:*/qemu_pid |
      | cloud/server:*/status    |
    When the recovery "start_services" runs on the compute host:
      | services | dbus, systemd-logind, libvirtd |
    Then the cloud is back to its verified state within 120 seconds
    And the tenants saw at most 10 seconds of heartbeat stall, no reboot and no lost write
    And every API was unavailable for at most 30 seconds

  @devstack
  Scenario: libvirtd is killed with SIGKILL and its guests survive
    When the fault "kill_service" is injected on the compute host:
      | service   | libvirtd |
      | signal    | SIGKILL  |
      | keep_down | yes      |
    Then the fault is confirmed within 10 seconds
    And the state deviates from the verified state within 30 seconds at:
      | path                                |
      | cloud/service:nova-compute@*/status |
    And the state still matches the verified state at:
      | path                     |
      | host:*/domain:*/qemu_pid |
      | cloud/server:*/status    |
    When the recovery "restart_services" runs on the compute host:
      | services | libvirtd |
    Then the cloud is back to its verified state within 120 seconds
    And the tenants saw at most 10 seconds of heartbeat stall, no reboot and no lost write
    And every API was unavailable for at most 30 seconds
