"""The DNS server of the sender-identity tests (Python dnslib): answers over UDP and TCP on 127.0.0.1 from a
zone file the test writes, so relais' own DKIM, SPF and DMARC checks (mail-auth over hickory) meet a real
resolver exchange instead of a mock.

    python3 dns_server.py ZONE_FILE

ZONE_FILE holds one record a line, `name TXT value` (the value without quotes, long values split into
255-byte strings here) or `name SERVFAIL` (every query for that name fails, to test a DNS failure). Other
names get NXDOMAIN. The file is read again at each query, so a test may add records as it goes. Prints
`PORT <n>` once listening; stops when its standard input closes.
"""

import socket
import sys
import threading

from dnslib import QTYPE, RCODE, RR, TXT
from dnslib.server import BaseResolver, DNSServer


class ZoneFileResolver(BaseResolver):
    def __init__(self, path):
        self.path = path

    def records(self):
        txt, servfail = {}, set()
        with open(self.path, encoding="utf-8") as zone:
            for line in zone:
                parts = line.strip().split(None, 2)
                if len(parts) == 2 and parts[1] == "SERVFAIL":
                    servfail.add(parts[0].rstrip(".").lower())
                elif len(parts) == 3 and parts[1] == "TXT":
                    txt.setdefault(parts[0].rstrip(".").lower(), []).append(parts[2])
        return txt, servfail

    def resolve(self, request, handler):
        reply = request.reply()
        name = str(request.q.qname).rstrip(".").lower()
        txt, servfail = self.records()
        if name in servfail:
            reply.header.rcode = RCODE.SERVFAIL
        elif name in txt:
            if request.q.qtype in (QTYPE.TXT, QTYPE.ANY):
                for value in txt[name]:
                    data = value.encode()
                    chunks = [data[i : i + 255] for i in range(0, len(data), 255)]
                    reply.add_answer(RR(request.q.qname, QTYPE.TXT, rdata=TXT(chunks), ttl=60))
        else:
            reply.header.rcode = RCODE.NXDOMAIN
        return reply


def free_port():
    """A port free for UDP and TCP alike."""
    while True:
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind(("127.0.0.1", 0))
        port = udp.getsockname()[1]
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            tcp.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            udp.close()
            tcp.close()


def main():
    resolver = ZoneFileResolver(sys.argv[1])
    port = free_port()
    quiet = type("Quiet", (), {"log_request": lambda *a: None, "log_reply": lambda *a: None,
                               "log_truncated": lambda *a: None, "log_error": lambda *a: None,
                               "log_recv": lambda *a: None, "log_send": lambda *a: None,
                               "log_data": lambda *a: None})()
    servers = [
        DNSServer(resolver, address="127.0.0.1", port=port, tcp=tcp, logger=quiet)
        for tcp in (False, True)
    ]
    for server in servers:
        server.start_thread()
    print(f"PORT {port}", flush=True)
    sys.stdin.read()
    for server in servers:
        server.stop()


if __name__ == "__main__":
    threading.excepthook = lambda args: None
    main()
