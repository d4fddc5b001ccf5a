"""Verifies the DKIM signatures of a message with dkimpy, without DNS.

Usage: dkim_verify.py RECORDS EML — RECORDS holds one "name value" line per DNS TXT record
(name without the final dot). Prints "SIG <index> <ok|fail>" for each DKIM-Signature, in order.
"""
import sys

import dkim

records = {}
with open(sys.argv[1]) as f:
    for line in f:
        name, value = line.rstrip("\n").split(" ", 1)
        records[name.rstrip(".").lower()] = value


def dnsfunc(name, timeout=5):
    if isinstance(name, bytes):
        name = name.decode()
    value = records.get(name.rstrip(".").lower())
    return value.encode() if value else None


with open(sys.argv[2], "rb") as f:
    message = f.read()
checker = dkim.DKIM(message)
count = sum(1 for name, _ in checker.headers if name.lower() == b"dkim-signature")
for index in range(count):
    ok = checker.verify(idx=index, dnsfunc=dnsfunc)
    print("SIG %d %s" % (index, "ok" if ok else "fail"), flush=True)
