"""The endpoints' ports are allocated and held for the whole session, never probed and released.

A port picked by binding port 0 and closing the socket can be taken by any other process before
the server binds it (other sessions run the same tests on the same loopback addresses). Every port
of the GOOD and BAD sets, including the GOOD set's "closed" port, must stay unbindable by anyone
else while the tests run.
"""
from __future__ import annotations

import errno
import socket


def test_every_endpoint_port_is_held_for_the_whole_session(endpoints):
    free = []
    for s in (endpoints.good, endpoints.bad):
        for key, port in sorted(s.items()):
            if not key.endswith("_port"):
                continue
            with socket.socket() as probe:
                try:
                    probe.bind((s["address"], port))
                except OSError as err:
                    assert err.errno == errno.EADDRINUSE, (key, err)
                else:
                    free.append("%s:%d (%s)" % (s["address"], port, key))
    assert not free, "ports another process could take while the tests run: %s" % ", ".join(free)


def test_the_closed_port_refuses_connections(endpoints):
    with socket.socket() as conn:
        conn.settimeout(5)
        assert conn.connect_ex((endpoints.good["address"], endpoints.good["closed_port"])) == errno.ECONNREFUSED
