"""Deliver queued mail over SMTP (aiosmtplib), or to the log when no SMTP is configured."""

from __future__ import annotations

import base64
import logging
from email.header import Header
from email.message import EmailMessage
from email.utils import make_msgid
from typing import TYPE_CHECKING, Any

import aiosmtplib

from server.workers import job_handler

if TYPE_CHECKING:
    from server.runtime import Runtime

log = logging.getLogger("smo.mail")


class _Rfc2047Subject(str):
    """A subject folded by ``email.header.Header``, which keeps every space inside the encoded
    words. (The default policy's folder puts a space *between* two encoded words when it splits
    a long Cyrillic subject there, and RFC 2047 readers drop such spaces: «письмо: заседание»
    arrived as «письмо:заседание».) The policy calls ``fold`` for objects that carry a ``name``."""

    name = "Subject"

    def fold(self, *, policy: Any) -> str:
        encoded = Header(str(self), "utf-8", header_name=self.name).encode(linesep=policy.linesep)
        return f"{self.name}: {encoded}{policy.linesep}"


def build_message(sender: str, payload: dict[str, Any]) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = payload["to"]
    subject = str(payload["subject"])
    msg["Subject"] = subject if subject.isascii() else _Rfc2047Subject(subject)
    msg["Message-ID"] = make_msgid(domain="smo.local")
    for key, value in (payload.get("headers") or {}).items():
        msg[key] = value
    msg.set_content(payload["text"])
    if payload.get("html"):
        msg.add_alternative(payload["html"], subtype="html")
    for att in payload.get("attachments") or []:
        maintype, _, subtype = att["content_type"].partition("/")
        msg.add_attachment(
            base64.b64decode(att["data"]),
            maintype=maintype,
            subtype=subtype or "octet-stream",
            filename=att["filename"],
        )
    return msg


@job_handler("mail")
async def send_mail(runtime: Runtime, payload: dict[str, Any]) -> None:
    s = runtime.settings
    msg = build_message(s.mail_from, payload)
    if not s.smtp_host:
        log.info(
            "mail (no SMTP configured, logged instead)",
            extra={"to": payload["to"], "subject": payload["subject"], "text": payload["text"]},
        )
        return
    await aiosmtplib.send(
        msg,
        hostname=s.smtp_host,
        port=s.smtp_port,
        username=s.smtp_user,
        password=s.smtp_password,
        start_tls=s.smtp_starttls,
        use_tls=s.smtp_use_tls,
        timeout=30,
    )
