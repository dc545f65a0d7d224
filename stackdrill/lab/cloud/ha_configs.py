"""Configuration files of the HA topology's controllers: MariaDB Galera, the RabbitMQ cluster,
memcached, HAProxy and keepalived. Pure rendering (topology, host and secrets in, ``{path:
text}`` out); :mod:`stackdrill.lab.cloud.clusters` forms the clusters on the booted hosts.

* **Galera**: ``galera-4``'s provider, every controller in ``gcomm://``, each node bound to its
  own address, state transfers by rsync (``wsrep_sst_method=rsync``).
* **RabbitMQ**: one Erlang cookie on every node (from the lab's secrets), clustered with
  ``join_cluster`` after boot, ``cluster_partition_handling = pause_minority``: of two
  partitions, the side without a majority of the nodes pauses, so no side of a partition keeps
  taking messages it cannot reconcile (RabbitMQ's recommendation for clusters of three or more
  nodes; ``autoheal`` would keep both sides running and throw away the losers' changes).
* **HAProxy** on every controller binds the VIP's ports (``net.ipv4.ip_nonlocal_bind=1`` in each
  controller's network namespace lets it bind the VIP it does not hold): each API balanced over
  the three controllers and checked over HTTP; MariaDB on one active server with the other two
  as ``backup`` (one writer, as is usual for Galera), checked with ``mysql-check``. Its stats
  socket is ``/run/haproxy/admin.sock``, level admin.
* **keepalived**: VRRP with unicast peers (no multicast on the lab's bridge needed), no
  preemption, and two check scripts: one fails while no ``haproxy`` process runs, so the VIP
  leaves a controller whose HAProxy died; the other fails while the controller reaches none of
  its peers (a TCP connect to each one's SSH port, in parallel, within 1 s), so a controller cut
  off from the other two gives the VIP up instead of claiming it beside the majority's holder
  (with three controllers, one peer reached is a majority).
"""

from __future__ import annotations

from stackdrill.lab.cloud.layout import APIS, MEMCACHED_PORT
from stackdrill.lab.cloud.secrets import LabSecrets
from stackdrill.lab.topology import API_ADDRESS, LabHost, Topology

GALERA_PROVIDER = "/usr/lib/galera/libgalera_smm.so"
GALERA_CLUSTER = "stackdrill-lab"
HAPROXY_SOCKET = "/run/haproxy/admin.sock"
HAPROXY_CHECK_USER = "haproxy"
"""The MariaDB account (no password, no privileges) HAProxy's ``mysql-check`` logs in as."""
SWIFT_PROXY_PORT = 8080
DATABASE_PORT = 3306
VRRP_ROUTER_ID = 77
VIP_INTERFACE = "eth0"
ERLANG_COOKIE = "/var/lib/rabbitmq/.erlang.cookie"
PEER_CHECK = "/etc/keepalived/peer_reachable"
PEER_CHECK_PORT = 22
API_CHECK = "inter 3s fall 3 rise 2"
"""HAProxy's health checks of an API: each is a request to a Python API with one worker, which
a slow request keeps busy for seconds (``timeout check``), so three must fail in a row. A
refused connection does not wait for them: the request is retried on another controller
(``option redispatch``)."""
# what HAProxy asks each API for; a 2xx or 3xx answer is healthy
CHECK_PATHS = {"swift-proxy": "/healthcheck"}


def galera_cnf(topology: Topology, host: LabHost) -> str:
    members = ",".join(h.address for h in topology.controllers)
    return f"""[mysqld]
bind-address = {host.address}
max_connections = 1000
skip-name-resolve
binlog_format = ROW
default_storage_engine = InnoDB
innodb_autoinc_lock_mode = 2
wsrep_on = ON
wsrep_provider = {GALERA_PROVIDER}
wsrep_provider_options = "gcache.size=64M"
wsrep_cluster_name = {GALERA_CLUSTER}
wsrep_cluster_address = gcomm://{members}
wsrep_node_address = {host.address}
wsrep_node_name = {host.name}
wsrep_sst_method = rsync
"""


def memcached_conf(address: str) -> str:
    return (f"-m 64\n-p {MEMCACHED_PORT}\n-u memcache\n-l {address}\n"
            "-P /var/run/memcached/memcached.pid\n")


RABBITMQ_CONF = """\
# pause_minority: the side of a partition without a majority of the nodes pauses
cluster_partition_handling = pause_minority
"""


def _listen(name: str, port: int, topology: Topology) -> str:
    path = CHECK_PATHS.get(name, "/")
    servers = "".join(f"    server {h.name} {h.address}:{port} check\n"
                      for h in topology.controllers)
    return f"""
listen {name}
    bind {API_ADDRESS}:{port}
    balance roundrobin
    option httpchk GET {path}
    default-server {API_CHECK}
{servers}"""


def _listen_database(topology: Topology) -> str:
    first, *others = topology.controllers
    servers = f"    server {first.name} {first.address}:{DATABASE_PORT} check\n" + "".join(
        f"    server {h.name} {h.address}:{DATABASE_PORT} check backup\n" for h in others)
    return f"""
listen mariadb
    bind {API_ADDRESS}:{DATABASE_PORT}
    mode tcp
    option tcplog
    option tcpka
    option mysql-check user {HAPROXY_CHECK_USER} post-41
    timeout client 3600s
    timeout server 3600s
    default-server inter 2s fall 2 rise 2 on-marked-down shutdown-sessions
{servers}"""


def haproxy_cfg(topology: Topology) -> str:
    ports = {name: port for name, (port, _, _) in APIS.items()}
    ports["swift-proxy"] = SWIFT_PROXY_PORT
    listens = "".join(_listen(name, port, topology) for name, port in ports.items())
    return f"""global
    log /dev/log local0
    chroot /var/lib/haproxy
    stats socket {HAPROXY_SOCKET} mode 660 level admin
    stats timeout 30s
    user haproxy
    group haproxy
    maxconn 4000

defaults
    log global
    mode http
    option httplog
    option dontlognull
    option redispatch 1
    retries 2
    timeout connect 2s
    timeout client 120s
    timeout server 120s
    timeout check 5s
{listens}{_listen_database(topology)}"""


def keepalived_conf(topology: Topology, host: LabHost, secrets: LabSecrets) -> str:
    index = topology.controllers.index(host)
    peers = "".join(f"        {h.address}\n" for h in topology.controllers if h != host)
    return f"""global_defs {{
    router_id {host.name}
    enable_script_security
    script_user root
}}

vrrp_script haproxy_running {{
    script "/usr/bin/killall -0 haproxy"
    interval 1
    fall 2
    rise 2
}}

vrrp_script peer_reachable {{
    script "{PEER_CHECK}"
    interval 1
    timeout 2
    fall 1
    rise 2
}}

vrrp_instance stackdrill_vip {{
    state BACKUP
    nopreempt
    interface {VIP_INTERFACE}
    virtual_router_id {VRRP_ROUTER_ID}
    priority {150 - 10 * index}
    advert_int 1
    unicast_src_ip {host.address}
    unicast_peer {{
{peers}    }}
    authentication {{
        auth_type PASS
        auth_pass {secrets['vrrp'][:8]}
    }}
    virtual_ipaddress {{
        {API_ADDRESS}/24 dev {VIP_INTERFACE}
    }}
    track_script {{
        haproxy_running
        peer_reachable
    }}
}}
"""


def peer_check(topology: Topology, host: LabHost) -> str:
    """keepalived's quorum check: exits 0 as soon as one peer controller accepts a TCP
    connection. Both peers are tried at once, so a cut controller fails it within 1 s, before
    VRRP's master-down interval (3 adverts of 1 s) would let it claim the VIP."""
    peers = " ".join(h.address for h in topology.controllers if h != host)
    return f"""#!/bin/bash
# exit 0 while this controller reaches at least one of its peers
for peer in {peers}; do
    timeout 1 bash -c "exec 3<>/dev/tcp/$peer/{PEER_CHECK_PORT}" 2>/dev/null &
done
for peer in {peers}; do
    wait -n && exit 0
done
exit 1
"""


def controller_infrastructure(topology: Topology, host: LabHost,
                              secrets: LabSecrets) -> dict[str, str]:
    """An HA controller's MariaDB, memcached, RabbitMQ, HAProxy and keepalived files (the
    Erlang cookie apart: :func:`stackdrill.lab.cloud.clusters.write_erlang_cookie`)."""
    return {
        "/etc/mysql/mariadb.conf.d/99-stackdrill.cnf": galera_cnf(topology, host),
        "/etc/memcached.conf": memcached_conf(host.address),
        "/etc/rabbitmq/rabbitmq.conf": RABBITMQ_CONF,
        "/etc/haproxy/haproxy.cfg": haproxy_cfg(topology),
        "/etc/keepalived/keepalived.conf": keepalived_conf(topology, host, secrets),
        PEER_CHECK: peer_check(topology, host),
    }
