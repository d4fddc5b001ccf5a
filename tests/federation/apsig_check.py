"""apsig (PyPI), an ActivityPub signature library written apart from relais, on the other side of relais'
HTTP Signatures (tests/federation_signatures.rs).

Usage: python3 apsig_check.py COMMAND < request.json, printing JSON on stdout.

  verify-draft   {method, url, headers, body_b64, public_pem}  -> {"valid": bool, "key_id"|"error": ...}
                 (exit 1 when the signature does not verify)
  sign-draft     {method, url, headers, body_b64, private_pem, key_id}  -> the headers to send
  sign-rfc9421   {method, path, host, headers, body_b64, private_pem, key_id}  -> the headers to send
"""

import base64
import json
import sys
import time

from cryptography.hazmat.primitives import serialization

from apsig.draft.sign import Signer
from apsig.draft.verify import Verifier
from apsig.rfc9421 import RFC9421Signer


def private_key(pem):
    return serialization.load_pem_private_key(pem.encode(), password=None)


def verify_draft(request):
    body = base64.b64decode(request["body_b64"])
    verifier = Verifier(
        public_pem=request["public_pem"],
        method=request["method"],
        url=request["url"],
        headers=request["headers"],
        body=body,
    )
    try:
        key_id = verifier.verify(raise_on_fail=True)
    except Exception as error:  # apsig raises its own exceptions and ValueError alike
        return {"valid": False, "error": f"{type(error).__name__}: {error}"}
    return {"valid": True, "key_id": key_id}


def sign_draft(request):
    signer = Signer(
        headers=request["headers"],
        private_key=private_key(request["private_pem"]),
        method=request["method"],
        url=request["url"],
        key_id=request["key_id"],
        body=base64.b64decode(request["body_b64"]),
    )
    return signer.sign()


def sign_rfc9421(request):
    signer = RFC9421Signer(private_key(request["private_pem"]), request["key_id"])
    # apsig 0.6.0 reads the clock twice (once for the signature base, once for Signature-Input): sign again
    # when a second boundary fell between them, or the two `created` would differ.
    for _ in range(5):
        before = int(time.time())
        headers = signer.sign(
            method=request["method"],
            path=request["path"],
            host=request["host"],
            headers=dict(request["headers"]),
            body=base64.b64decode(request["body_b64"]),
        )
        if int(time.time()) == before:
            return headers
    raise SystemExit("the clock kept crossing a second while signing")


COMMANDS = {
    "verify-draft": verify_draft,
    "sign-draft": sign_draft,
    "sign-rfc9421": sign_rfc9421,
}

if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in COMMANDS:
        raise SystemExit(f"usage: apsig_check.py {{{'|'.join(COMMANDS)}}} < request.json")
    result = COMMANDS[sys.argv[1]](json.load(sys.stdin))
    json.dump(result, sys.stdout)
    if result.get("valid") is False:
        sys.exit(1)
