"""A minimal SNTP server (RFC 4330 server side) for the VM stage, serving this machine's clock.

No public NTP server is reachable from the build machine, so the VMs' systemd-timesyncd is
pointed at QEMU's NAT gateway address (10.0.2.2), which QEMU maps to the host's 127.0.0.1; this
responder listens there on port 123. It is test infrastructure standing in for an internet NTP
server: the client side (timesyncd in the VM, its state and the guest clock) is the real thing.
Port 123 is fixed by the protocol (timesyncd has no port setting), so the responder is held under
a lock and fails loudly if something else owns the port.
"""
from __future__ import annotations

import socket
import struct
import threading
import time

NTP_EPOCH_OFFSET = 2208988800


def _ntp_time(t: float) -> bytes:
    secs = int(t) + NTP_EPOCH_OFFSET
    frac = int((t % 1) * (1 << 32))
    return struct.pack("!II", secs, frac)


class SntpServer:
    def __init__(self, address: str = "127.0.0.1", port: int = 123) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((address, port))
        self.sock.settimeout(0.5)
        self.answered = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="sntp", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, peer = self.sock.recvfrom(512)
            except TimeoutError:
                continue
            except OSError:
                return
            received = time.time()
            if len(data) < 48:
                continue
            version = (data[0] >> 3) & 0x7
            # LI=0, VN=client's, mode=4 (server); stratum 2; poll copied; precision 2^-20.
            header = struct.pack("!BBbb", (version << 3) | 4, 2, data[2], -20)
            root = struct.pack("!II", 0, 0x00000100)            # root delay 0, dispersion ~4 ms
            ref_id = b"LOCL"
            reply = (header + root + ref_id + _ntp_time(received)   # reference timestamp
                     + data[40:48]                                   # originate = client's transmit
                     + _ntp_time(received) + _ntp_time(time.time()))
            try:
                self.sock.sendto(reply, peer)
                self.answered += 1
            except OSError:
                pass

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()
