"""An ActivityPub peer written apart from relais, for tests/federation_interop.rs: a small HTTP server (the
standard library's) whose Group actor signs and verifies with apsig (PyPI), an independent implementation
of HTTP Signatures. It follows relais' Group, verifies the signature of everything relais posts to its
inbox with the key it fetched from relais' actor, and joins an event, signing each request itself.

Usage: python3 peer.py PORT RELAIS_HOST RELAIS_PORT
  PORT         where the peer listens on 127.0.0.1; it calls itself peer.test:PORT
  RELAIS_HOST  relais' host name (club.test), reached on 127.0.0.1:RELAIS_PORT

It prints one JSON line per thing seen ({"event": "ready"|"posted"|"received", ...}) and reads commands on
standard input, one per line:
  follow ACCOUNT          WebFinger ACCOUNT (club@club.test:PORT), fetch the actor, post a signed Follow
  join EVENT_URL          post a signed Join of that event to relais' shared inbox
  quit
"""

import base64
import http.client
import json
import sys
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from apsig.draft.sign import Signer
from apsig.draft.verify import Verifier

PORT = int(sys.argv[1])
RELAIS_HOST = sys.argv[2]
RELAIS_PORT = int(sys.argv[3])
ME = f"peer.test:{PORT}"
ACTOR = f"http://{ME}/actor"
KEY_ID = f"{ACTOR}#main-key"
JSON_TYPE = "application/activity+json"

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
PUBLIC_PEM = KEY.public_key().public_bytes(
    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
).decode()
# relais' actors as fetched: url -> public key PEM (filled by `follow`).
KNOWN_KEYS = {}
LOCK = threading.Lock()


def say(**fields):
    with LOCK:
        print(json.dumps(fields), flush=True)


def relais_request(method, url, body=None, signed=True):
    """A request to relais on loopback, under its host name, signed by the peer's Group with apsig."""
    parts = urlsplit(url)
    headers = {"accept": JSON_TYPE}
    if body is not None:
        headers["content-type"] = JSON_TYPE
    if signed:
        headers = Signer(
            headers=headers,
            private_key=KEY,
            method=method,
            url=url,
            key_id=KEY_ID,
            body=body or b"",
        ).sign()
    headers["host"] = parts.netloc
    connection = http.client.HTTPConnection("127.0.0.1", RELAIS_PORT, timeout=10)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    connection.request(method, path, body=body, headers=headers)
    response = connection.getresponse()
    return response.status, response.read()


def actor_document():
    return {
        "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
        "type": "Group",
        "id": ACTOR,
        "preferredUsername": "peer",
        "name": "Réseau pair (apsig)",
        "inbox": f"http://{ME}/inbox",
        "outbox": f"http://{ME}/outbox",
        "endpoints": {"sharedInbox": f"http://{ME}/inbox"},
        "publicKey": {"id": KEY_ID, "owner": ACTOR, "publicKeyPem": PUBLIC_PEM},
    }


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def answer(self, status, document=None):
        body = json.dumps(document or {}).encode()
        self.send_response(status)
        self.send_header("content-type", JSON_TYPE)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path.startswith("/actor"):
            self.answer(200, actor_document())
        else:
            self.answer(404)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        activity = json.loads(body or b"{}")
        signature = self.headers.get("signature", "")
        key_id = signature.split('keyId="', 1)[-1].split('"', 1)[0] if signature else ""
        public_pem = KNOWN_KEYS.get(key_id.split("#", 1)[0])
        verified, error = False, "clé inconnue"
        if public_pem:
            verifier = Verifier(
                public_pem=public_pem,
                method="POST",
                url=f"http://{ME}{self.path}",
                headers={k.lower(): v for k, v in self.headers.items()},
                body=body,
            )
            try:
                verifier.verify(raise_on_fail=True)
                verified, error = True, ""
            except Exception as failure:
                error = f"{type(failure).__name__}: {failure}"
        obj = activity.get("object")
        say(
            event="received",
            type=activity.get("type"),
            object_type=obj.get("type") if isinstance(obj, dict) else None,
            object_id=obj.get("id") if isinstance(obj, dict) else obj,
            name=obj.get("name") if isinstance(obj, dict) else None,
            verified=verified,
            error=error,
        )
        self.answer(202 if verified else 401)


def follow(account):
    user, host = account.rsplit("@", 1)
    status, body = relais_request(
        "GET", f"http://{host}/.well-known/webfinger?resource=acct:{user}@{host}", signed=False
    )
    links = json.loads(body)["links"]
    actor_url = next(l["href"] for l in links if l.get("rel") == "self")
    status, body = relais_request("GET", actor_url, signed=False)
    actor = json.loads(body)
    KNOWN_KEYS[actor["id"]] = actor["publicKey"]["publicKeyPem"]
    inbox = actor["endpoints"]["sharedInbox"]
    activity = {
        "@context": "https://www.w3.org/ns/activitystreams",
        "type": "Follow",
        "id": f"http://{ME}/follows/{uuid.uuid4()}",
        "actor": ACTOR,
        "object": actor["id"],
    }
    status, answer = relais_request("POST", inbox, json.dumps(activity).encode())
    say(event="posted", type="Follow", status=status, answer=answer.decode(errors="replace"))
    # Its signed fetch of a collection, as a following server refreshes a group.
    status, body = relais_request("GET", actor["endpoints"]["events"])
    say(event="fetched", what="events", status=status)


def join(event_url):
    activity = {
        "@context": "https://www.w3.org/ns/activitystreams",
        "type": "Join",
        "id": f"http://{ME}/joins/{uuid.uuid4()}",
        "actor": ACTOR,
        "object": event_url,
        "participationMessage": "Deux élus du réseau pair",
    }
    status, answer = relais_request(
        "POST", f"http://{RELAIS_HOST}:{RELAIS_PORT}/inbox", json.dumps(activity).encode()
    )
    say(event="posted", type="Join", status=status, answer=answer.decode(errors="replace"))


def main():
    server = ThreadingHTTPServer(("127.0.0.1", PORT), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    say(event="ready", actor=ACTOR)
    for line in sys.stdin:
        command, _, argument = line.strip().partition(" ")
        if command == "follow":
            follow(argument)
        elif command == "join":
            join(argument)
        elif command == "quit":
            break
    server.shutdown()


if __name__ == "__main__":
    main()
