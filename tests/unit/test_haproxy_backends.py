"""The ``haproxy_backends`` probe: each backend server's status from HAProxy 2.6's ``show stat``
CSV (the header of the management guide's section 9.1, a trailing comma on every line, a blank
line at the end), read through a fake ``socat`` on a real socket file. An HAProxy that does not
answer is an observation."""

from __future__ import annotations

import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from stackdrill.builtin.probes.haproxy_backends import HaproxyBackends

from stackdrill.api import HostError
from tests.unit.ha_fakes import FakeTargets, fake_tool, ha_inventory, observe, printing

CSV_HEADER = (
    "pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,"
    "wredis,status,weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,"
    "throttle,lbtot,tracked,type,rate,rate_lim,rate_max,check_status,check_code,"
    "check_duration,hrsp_1xx,hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,hrsp_other,hanafail,"
    "req_rate,req_rate_max,req_tot,cli_abrt,srv_abrt,comp_in,comp_out,comp_byp,comp_rsp,"
    "lastsess,last_chk,last_agt,qtime,ctime,rtime,ttime,agent_status,agent_code,"
    "agent_duration,check_desc,agent_desc,check_rise,check_fall,check_health,agent_rise,"
    "agent_fall,agent_health,addr,cookie,mode,algo,conn_rate,conn_rate_max,conn_tot,"
    "intercepted,dcon,dses,wrew,connect,reuse,cache_lookups,cache_hits,srv_icur,src_ilim,"
    "qtime_max,ctime_max,rtime_max,ttime_max,eint,idle_conn_cur,safe_conn_cur,used_conn_cur,"
    "need_conn_est,uweight"
)
"""HAProxy 2.6's static fields, in the order its management guide lists them."""
HEADER = CSV_HEADER.split(",")
ADDRESSES = {"controller1": "172.31.77.31", "controller2": "172.31.77.32",
             "controller3": "172.31.77.33"}


def row(proxy: str, server: str, status: str, **fields: str) -> str:
    """One CSV line: a frontend, a backend's own line, or a server (type 0, 1, 2)."""
    kind = {"FRONTEND": "0", "BACKEND": "1"}.get(server, "2")
    values = {"pxname": proxy, "svname": server, "status": status, "type": kind,
              "pid": "1", "iid": "3", "mode": "http", "weight": "1", **fields}
    if kind == "2":
        values |= {"addr": f"{ADDRESSES[server]}:5000", "check_status": "L7OK",
                   "check_code": "300", "check_desc": "Layer7 check passed",
                   "last_chk": "HTTP status check returned code <3C>300<3E>"}
        if status.startswith("DOWN"):
            values |= {"check_status": "L4CON", "check_code": "",
                       "check_desc": "Layer4 connection problem",
                       "last_chk": "Connection refused"}
    return ",".join(values.get(name, "") for name in HEADER) + ","


def show_stat(*servers: tuple[str, str, str]) -> str:
    """``show stat`` for the given (proxy, server, status), each proxy with its frontend and
    backend lines."""
    lines = ["# " + ",".join(HEADER) + ","]
    for proxy in dict.fromkeys(p for p, _, _ in servers):
        lines.append(row(proxy, "FRONTEND", "OPEN"))
        lines += [row(p, s, status) for p, s, status in servers if p == proxy]
        lines.append(row(proxy, "BACKEND", "UP"))
    return "\n".join(lines) + "\n"


HEALTHY = show_stat(*[(proxy, host, "UP") for proxy in ("keystone", "nova_api")
                      for host in ADDRESSES])


@pytest.fixture
def stats_socket() -> Iterator[str]:
    """A real socket file (bound, so ``[ -S ]`` holds) at a path short enough for one."""
    with tempfile.TemporaryDirectory(prefix="hap") as directory:
        path = f"{directory}/admin.sock"
        server = socket.socket(socket.AF_UNIX)
        server.bind(path)
        yield path
        server.close()


@pytest.fixture
def cloud(tmp_path: Path) -> FakeTargets:
    return FakeTargets(ha_inventory(tmp_path), tmp_path)


def probe_on(path: str) -> HaproxyBackends:
    class OnTheTestSocket(HaproxyBackends):
        socket = path

    return OnTheTestSocket()


def socat(cloud: FakeTargets, body: str) -> None:
    fake_tool(cloud.get("controller1").tools, "socat", 'read -r request\n'
              '[ "$request $1 ${2%%:*}" = "show stat stdio UNIX-CONNECT" ] || exit 9\n' + body)


def test_every_server_of_every_proxy_is_read(cloud: FakeTargets, stats_socket: str) -> None:
    socat(cloud, printing(HEALTHY))
    probe = probe_on(stats_socket)
    values = observe(probe, cloud.get("controller1"))
    assert values == {"haproxy:answering": True,
                      **{f"haproxy:{proxy}/server:{host}": "UP"
                         for proxy in ("keystone", "nova_api") for host in ADDRESSES}}
    assert probe.problems(values) == []


def test_down_servers_and_a_proxy_with_none_up_are_problems(cloud: FakeTargets,
                                                            stats_socket: str) -> None:
    socat(cloud, printing(show_stat(
        ("keystone", "controller1", "DOWN"), ("keystone", "controller2", "UP 1/3"),
        ("keystone", "controller3", "MAINT"),
        ("nova_api", "controller1", "DOWN"), ("nova_api", "controller2", "DOWN 1/2"),
        ("nova_api", "controller3", "MAINT"))))
    probe = probe_on(stats_socket)
    values = observe(probe, cloud.get("controller1"))
    assert values["haproxy:keystone/server:controller2"] == "UP 1/3"
    assert probe.problems(values) == [
        "keystone: server controller1 is DOWN",
        "nova_api: server controller1 is DOWN",
        "nova_api: server controller2 is DOWN 1/2",
        "nova_api: no server is up",
    ]


def test_an_haproxy_that_does_not_answer_is_observed(cloud: FakeTargets,
                                                      stats_socket: str) -> None:
    """HAProxy was killed: its socket is left, nothing listens on it."""
    socat(cloud, printing("", status=1, stderr=(
        f'2026/12/07 06:10:41 socat[4711] E connect(, AF=1 "{stats_socket}", 27): '
        "Connection refused")))
    probe = probe_on(stats_socket)
    values = observe(probe, cloud.get("controller1"))
    assert values == {"haproxy:answering": False}
    assert probe.problems(values) == [f"HAProxy does not answer on {stats_socket}"]
    assert observe(probe_on(stats_socket + ".gone"), cloud.get("controller1")) == {
        "haproxy:answering": False}


def test_any_other_failure_fails_the_probe(cloud: FakeTargets, stats_socket: str) -> None:
    socat(cloud, printing("", status=127, stderr="sh: 1: socat: not found"))
    with pytest.raises(HostError, match=r"controller1: show stat on .* failed: .*not found"):
        observe(probe_on(stats_socket), cloud.get("controller1"))


def test_the_load_balancers_are_the_hosts_that_may_hold_a_vip(cloud: FakeTargets) -> None:
    probe = HaproxyBackends()
    assert [name for name, host in cloud.hosts.items() if probe.applies_to(host)] == [
        "controller1", "controller2", "controller3"]
