"""Prints, as JSON, the parts of a message read by Python's `email` (the list tests compare a copy with its post).

Usage: parts.py FILE — one entry per part, in order: ["multipart", type] for a multipart, ["message", subject]
for a forwarded message, [type, file name, Content-ID, decoded bytes as hex] for any other part.
"""
import email
import email.policy
import json
import sys

message = email.message_from_bytes(open(sys.argv[1], "rb").read(), policy=email.policy.default)
out = []
for part in message.walk():
    if part.is_multipart():
        out.append(["multipart", part.get_content_type()])
    elif part.get_content_type() == "message/rfc822":
        out.append(["message", part.get_payload()[0]["Subject"]])
    else:
        data = part.get_payload(decode=True) or b""
        out.append([part.get_content_type(), part.get_filename(), part["Content-ID"], data.hex()])
print(json.dumps(out))
