"""Tiny real-packet helper, run inside a network namespace (``ip netns exec NS python netprobe.py ...``).

    netprobe.py listen TCP_PORTS UDP_PORTS   bind every port on 0.0.0.0 (TCP: accept and close,
                                             UDP: echo), print "ready", serve until killed
    netprobe.py probe TIMEOUT                read [[proto, dst, port, src], ...] as JSON on stdin,
                                             print [[..., "open"|"dropped"|"error: ..."], ...]

A probe is "open" when the packet got through the firewall: a TCP handshake completed or was
refused (RST), a UDP datagram was echoed or answered with port-unreachable. "dropped" = no answer
within TIMEOUT seconds. Standard library only, so the same file works in a VM (issue 18).
"""
from __future__ import annotations

import json
import selectors
import socket
import sys
from concurrent.futures import ThreadPoolExecutor


def _ports(arg):
    return [int(p) for p in arg.split(",") if p]


def listen(tcp_ports, udp_ports):
    sel = selectors.DefaultSelector()
    for port in tcp_ports:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("0.0.0.0", port))
        s.listen(64)
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, "tcp")
    for port in udp_ports:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("0.0.0.0", port))
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, "udp")
    print("ready", flush=True)
    while True:
        for key, _mask in sel.select():
            sock = key.fileobj
            try:
                if key.data == "tcp":
                    conn, _addr = sock.accept()
                    conn.close()
                else:
                    data, addr = sock.recvfrom(2048)
                    sock.sendto(data, addr)
            except OSError:
                pass


def probe_one(proto, dst, port, src, timeout):
    family_type = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    s = socket.socket(socket.AF_INET, family_type)
    s.settimeout(timeout)
    try:
        s.bind((src, 0))
        if proto == "tcp":
            s.connect((dst, port))
            return "open"
        s.connect((dst, port))
        s.send(b"netprobe")
        s.recv(2048)
        return "open"
    except ConnectionRefusedError:
        return "open"
    except (socket.timeout, TimeoutError):
        return "dropped"
    except OSError as exc:
        return "error: %s" % exc
    finally:
        s.close()


def probe(timeout):
    rows = json.load(sys.stdin)
    with ThreadPoolExecutor(max_workers=64) as pool:
        results = list(pool.map(lambda r: probe_one(r[0], r[1], int(r[2]), r[3], timeout), rows))
    json.dump([list(r) + [res] for r, res in zip(rows, results)], sys.stdout)


if __name__ == "__main__":
    if sys.argv[1] == "listen":
        listen(_ports(sys.argv[2]), _ports(sys.argv[3]))
    elif sys.argv[1] == "probe":
        probe(float(sys.argv[2]))
    else:
        sys.exit("usage: netprobe.py listen TCP UDP | probe TIMEOUT")
