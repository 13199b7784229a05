"""A stand-in for Amazon SNS: a signing key and certificate made here, the certificate
served over https from a loopback server (which also counts subscription
confirmations), and messages signed the way SNS signs them."""

from __future__ import annotations

import base64
import json
import ssl
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from support.tls import self_signed

TOPIC = "arn:aws:sns:eu-west-1:123456789012:ses-feedback"
FIELDS = {
    "Notification": ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"],
    "SubscriptionConfirmation": [
        "Message",
        "MessageId",
        "SubscribeURL",
        "Timestamp",
        "Token",
        "TopicArn",
        "Type",
    ],
}


def signing_pair() -> tuple[rsa.RSAPrivateKey, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = self_signed(key, "sns.amazonaws.com")
    return key, cert.public_bytes(serialization.Encoding.PEM)


class SnsHost:
    """`with SnsHost(server_context, certificate) as host:` → `host.url(path)`, `host.hits`."""

    def __init__(self, context: ssl.SSLContext, certificate: bytes) -> None:
        self.hits: Counter[str] = Counter()
        hits, pem = self.hits, certificate

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?")[0]
                hits[path] += 1
                body = pem if path.endswith(".pem") else b"<ConfirmSubscriptionResponse/>"
                status = 200 if path in ("/cert.pem", "/confirm") else 404
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> SnsHost:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def url(self, path: str) -> str:
        return f"https://127.0.0.1:{self.port}{path}"


def signed(key: rsa.RSAPrivateKey, message: dict[str, Any], version: str = "2") -> dict[str, Any]:
    text = "".join(
        f"{name}\n{message[name]}\n" for name in FIELDS[message["Type"]] if name in message
    )
    algorithm = hashes.SHA256() if version == "2" else hashes.SHA1()
    signature = key.sign(text.encode(), padding.PKCS1v15(), algorithm)
    return message | {
        "SignatureVersion": version,
        "Signature": base64.b64encode(signature).decode(),
    }


def notification(cert_url: str, ses: dict[str, Any], number: int = 1) -> dict[str, Any]:
    return {
        "Type": "Notification",
        "MessageId": f"5c3b9a43-0000-4000-8000-{number:012d}",
        "TopicArn": TOPIC,
        "Message": json.dumps(ses),
        "Timestamp": "2026-12-01T15:10:00.000Z",
        "SigningCertURL": cert_url,
    }


def ses_bounce(
    recipient: str, source: str, message_id: str, permanent: bool = True
) -> dict[str, Any]:
    return {
        "notificationType": "Bounce",
        "bounce": {
            "bounceType": "Permanent" if permanent else "Transient",
            "bounceSubType": "General",
            "bouncedRecipients": [
                {
                    "emailAddress": recipient,
                    "action": "failed",
                    "status": "5.1.1",
                    "diagnosticCode": "smtp; 550 5.1.1 user unknown",
                }
            ],
            "timestamp": "2026-12-01T15:09:58.000Z",
            "feedbackId": f"0100018c-bounce-{recipient}",
        },
        "mail": _mail(recipient, source, message_id),
    }


def ses_complaint(recipient: str, source: str, message_id: str) -> dict[str, Any]:
    return {
        "notificationType": "Complaint",
        "complaint": {
            "complainedRecipients": [{"emailAddress": recipient}],
            "complaintFeedbackType": "abuse",
            "timestamp": "2026-12-01T16:00:00.000Z",
            "feedbackId": f"0100018c-complaint-{recipient}",
        },
        "mail": _mail(recipient, source, message_id),
    }


def _mail(recipient: str, source: str, message_id: str) -> dict[str, Any]:
    """SES's account of the message: who sent it (our VERP), to whom, our Message-ID."""
    return {
        "timestamp": "2026-12-01T15:09:50.000Z",
        "source": source,
        "messageId": "0100018c2a4b8c3d-ses",
        "destination": [recipient],
        "commonHeaders": {"messageId": message_id},
    }
