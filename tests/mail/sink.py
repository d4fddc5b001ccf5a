"""A capturing SMTP server for relais's mail tests (aiosmtpd).

Usage: sink.py DIR  — listens on 127.0.0.1 on a free port, prints "PORT <n>" once ready, and writes each
accepted message as DIR/<n>.eml (with a first line "X-Sink-Rcpt: <address>" per recipient, and
"X-Sink-Pipelined: yes" when DATA had already arrived with the RCPT command). Recipients whose
local part starts with "refuse" get 550; with "later", 451 on their first attempt and 250 after; with "full",
552 on their first attempt. Stops when its standard input closes.

Usage: sink.py DIR --count — for large sends: only appends each accepted recipient to DIR/recipients.log.
Usage: sink.py DIR --port N — listens on port N instead of a free one.
Usage: sink.py DIR --no-pipelining — does not offer PIPELINING (offered by default, as most servers do).
"""
import asyncio
import os
import socket
import sys

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, folder, count_only, pipelining):
        self.folder = folder
        self.count_only = count_only
        self.pipelining = pipelining
        self.count = 0
        self.seen = {}

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        # aiosmtpd reads commands one line at a time, so pipelined commands are answered in order.
        session.host_name = hostname
        if self.pipelining:
            responses.insert(1, "250-PIPELINING")
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@")[0].lower()
        tries = self.seen.get(address, 0)
        self.seen[address] = tries + 1
        if local.startswith("refuse"):
            return "550 5.1.1 <%s>: Recipient address rejected: User unknown" % address
        if local.startswith("later") and tries == 0:
            return "451 4.3.0 <%s>: Temporary lookup failure" % address
        if local.startswith("full") and tries == 0:
            return "552 5.2.2 <%s>: Mailbox full" % address
        envelope.rcpt_tos.append(address)
        # A pipelining client sent DATA in the same write: it waits, unread, in aiosmtpd's buffer.
        envelope.pipelined = b"DATA" in bytes(server._reader._buffer)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        if self.count_only:
            with open(os.path.join(self.folder, "recipients.log"), "a") as f:
                f.write("".join("%s\n" % r for r in envelope.rcpt_tos))
            return "250 2.0.0 Ok: queued as sink%06d" % self.count
        path = os.path.join(self.folder, "%06d.eml" % self.count)
        head = "".join("X-Sink-Rcpt: %s\r\n" % r for r in envelope.rcpt_tos)
        head += "X-Sink-Mail-From: %s\r\n" % envelope.mail_from
        head += "X-Sink-Pipelined: %s\r\n" % ("yes" if getattr(envelope, "pipelined", False) else "no")
        with open(path + ".part", "wb") as f:
            f.write(head.encode() + envelope.original_content)
        os.rename(path + ".part", path)
        return "250 2.0.0 Ok: queued as sink%06d" % self.count


async def main():
    folder = sys.argv[1]
    if "--port" in sys.argv:
        port = int(sys.argv[sys.argv.index("--port") + 1])
    else:
        # aiosmtpd's controller cannot listen on port 0: ask the system for a free port first.
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
    sink = Sink(folder, "--count" in sys.argv, "--no-pipelining" not in sys.argv)
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    print("PORT %d" % port, flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)
    controller.stop()


asyncio.run(main())
