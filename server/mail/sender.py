"""Deliver queued mail over SMTP (aiosmtplib), or to the log when no SMTP is configured."""

from __future__ import annotations

import base64
import logging
from email.message import EmailMessage
from email.utils import make_msgid
from typing import TYPE_CHECKING, Any

import aiosmtplib

from server.workers import job_handler

if TYPE_CHECKING:
    from server.runtime import Runtime

log = logging.getLogger("smo.mail")


def build_message(sender: str, payload: dict[str, Any]) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = payload["to"]
    msg["Subject"] = payload["subject"]
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
