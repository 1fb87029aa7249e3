"""The email workload: compose an invoice email from Jinja2 templates (HTML and plain text),
attach a document, and deliver it over SMTP.

By default the workload starts an SMTP sink on loopback (aiosmtpd) that counts and checks
what it receives; ``--smtp HOST:PORT`` sends to a server of yours instead. The sink refuses
recipients at ``refused.invalid`` and drops the connection for ``drop.invalid``, so delivery
failures can be soaked too: the reference worker reports them as job errors and reconnects.

(The module is ``mail``, not ``email``: a worker file under ``workloads/`` would otherwise
shadow the standard library's ``email`` package.)
"""

from __future__ import annotations

import email.errors
import os
import random
import smtplib
import socket
import threading
from collections.abc import Iterator, Mapping
from email.headerregistry import Address
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import SMTPUTF8
from email.policy import default as default_policy
from pathlib import Path
from typing import Any, Final

from worker_soak.workloads.base import (
    FaultyWorker,
    Job,
    Workload,
    WorkloadOptionError,
    profile_of,
    rng_for,
)
from worker_soak.workloads.payloads import CURRENCIES, invoice_lines, money, person

ENV_SMTP: Final = "SOAK_SMTP"
TEMPLATES: Final = Path(__file__).parent / "templates"
REFUSED_DOMAIN: Final = "refused.invalid"
DROP_DOMAIN: Final = "drop.invalid"
#: Lines per invoice and attachment bytes, by profile.
LINES: Final = {"small": (1, 5), "medium": (10, 40), "large": (100, 300)}
ATTACHMENT: Final = {"small": (0, 2_048), "medium": (20_000, 60_000), "large": (200_000, 600_000)}


def generate(count: int, seed: int, options: Mapping[str, str]) -> Iterator[Job]:
    """Invoice emails; the attachment is described (size and seed), not carried, so a
    10,000-job run does not hold gigabytes of payload."""
    profile = profile_of(options)
    low, high = LINES[profile]
    small, big = ATTACHMENT[profile]
    for index in range(count):
        rng = rng_for(seed, index, "email")
        currency, digits = rng.choice(CURRENCIES)
        recipient = person(rng)
        local = f"customer.{seed}.{index}"
        size = rng.randint(small, big)
        yield {
            "id": index,
            "invoice_number": f"INV-{seed:04d}-{index:06d}",
            "to": {"name": recipient["name"], "address": f"{local}@example.test"},
            "currency": currency,
            "minor_digits": digits,
            "lines": invoice_lines(rng, rng.randint(low, high), digits),
            "attachment": None
            if size == 0
            else {
                "filename": f"INV-{seed:04d}-{index:06d}.pdf"
                if profile == "large"
                else f"statement-{index:06d}.bin",
                "bytes": size,
                "seed": rng.randrange(2**32),
                "kind": "pdf" if profile == "large" else "bytes",
            },
        }


def _template_environment() -> Any:
    import jinja2

    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=jinja2.select_autoescape(["html", "html.j2"]),
        undefined=jinja2.StrictUndefined,
    )
    return environment


def compose(job: Job, html_template: Any, text_template: Any) -> EmailMessage:
    """The MIME message for one job: text and HTML alternatives, and the attachment."""
    digits = int(job["minor_digits"])
    lines = [
        {
            **line,
            "unit_price": line["unit_price_minor"],
            "amount": line["quantity"] * line["unit_price_minor"],
        }
        for line in job["lines"]
    ]
    context = {
        "subject": f"Invoice {job['invoice_number']}",
        "invoice_number": job["invoice_number"],
        "to": job["to"],
        "lines": lines,
        "total": sum(line["amount"] for line in lines),
        "currency": job["currency"],
        "attachment": job.get("attachment"),
        "money": lambda minor: money(minor, job["currency"], digits),
    }
    # A non-ASCII mailbox (renée@…) can only be written with the SMTPUTF8 policy, and sent to
    # a server that offers SMTPUTF8 (smtplib asks for it); every other message stays 7-bit.
    international = not job["to"]["address"].isascii()
    message = EmailMessage(policy=SMTPUTF8 if international else default_policy)
    message["From"] = Address("Billing", addr_spec="billing@soak.test")
    name = display_name(job["to"]["name"])
    if international:  # Address() refuses non-ASCII local parts; the header parser does not
        quoted = name.replace("\\", "\\\\").replace('"', '\\"')
        message["To"] = f'"{quoted}" <{job["to"]["address"]}>'
    else:
        try:
            message["To"] = Address(name, addr_spec=job["to"]["address"])
        except (ValueError, email.errors.HeaderParseError, email.errors.MessageDefect) as exc:
            raise InvalidRecipientError(
                f"recipient {job['to']['address']!r} is not an address: {exc}"
            ) from None
    message["Subject"] = context["subject"]
    message["Message-ID"] = f"<{job['invoice_number']}.{job['id']}@soak.test>"
    message.set_content(text_template.render(context))
    message.add_alternative(html_template.render(context), subtype="html")
    attachment = job.get("attachment")
    if attachment:
        if attachment["kind"] == "pdf":
            from worker_soak.workloads.invoices import render_invoice

            data = render_invoice(invoice_job_from_email(job))
            message.add_attachment(
                data, maintype="application", subtype="pdf", filename=attachment["filename"]
            )
        else:
            data = random.Random(attachment["seed"]).randbytes(int(attachment["bytes"]))
            message.add_attachment(
                data,
                maintype="application",
                subtype="octet-stream",
                filename=attachment["filename"],
            )
    return message


class InvalidRecipientError(ValueError):
    """A job's recipient address cannot be written in a header: the job fails, not the
    worker."""


def display_name(name: str) -> str:
    """A customer's name made safe for a header: no line breaks (header injection) and no
    other control characters, runs of white space folded to one."""
    printable = "".join(ch if ch.isprintable() else " " for ch in name)
    return " ".join(printable.split())


def invoice_job_from_email(job: Job) -> Job:
    """The pdf workload's job for the invoice an email carries."""
    return {
        "id": job["id"],
        "invoice_number": job["invoice_number"],
        "customer": {"name": job["to"]["name"], "street": "", "city": "", "postcode": ""},
        "currency": job["currency"],
        "minor_digits": job["minor_digits"],
        "lines": job["lines"],
        "chart": False,
    }


def smtp_address(value: str) -> tuple[str, int]:
    """'host:port' -> (host, port), or a WorkloadOptionError saying what is expected."""
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise WorkloadOptionError(f"--smtp {value!r}: expected HOST:PORT, e.g. 127.0.0.1:2525")
    return host, int(port)


class EmailWorker:
    """Reference worker: one SMTP connection for the worker's life, reopened if dropped."""

    def setup(self) -> None:
        environment = _template_environment()
        self.html = environment.get_template("invoice_email.html.j2")
        self.text = environment.get_template("invoice_email.txt.j2")
        self.address = smtp_address(os.environ.get(ENV_SMTP, "127.0.0.1:25"))
        self.connection: smtplib.SMTP | None = None

    def handle(self, job: Job) -> dict[str, Any]:
        message = compose(job, self.html, self.text)
        self.deliver(message)
        return {"message_id": message["Message-ID"], "recipient": job["to"]["address"]}

    def deliver(self, message: EmailMessage) -> None:
        """Send; a refused recipient or a dropped connection raises (a failed job), and the
        next job gets a fresh connection."""
        if self.connection is None:
            self.connection = smtplib.SMTP(*self.address, timeout=30)
        try:
            self.connection.send_message(message)
        except (smtplib.SMTPServerDisconnected, smtplib.SMTPRecipientsRefused, OSError):
            self._close()
            raise

    def _close(self) -> None:
        if self.connection is not None:
            try:
                self.connection.quit()
            except (smtplib.SMTPException, OSError):
                self.connection.close()
            self.connection = None

    def teardown(self) -> None:
        self._close()


class ArchivingEmailWorker(EmailWorker):
    """Faulty: keeps every message it sent "for the audit log", so memory grows per job."""

    def setup(self) -> None:
        super().setup()
        self.sent: list[EmailMessage] = []

    def handle(self, job: Job) -> dict[str, Any]:
        result = super().handle(job)
        self.sent.append(compose(job, self.html, self.text))  # the leak
        return result


class SmtpSink:
    """An SMTP server on loopback that accepts, parses and counts what it is sent."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.lock = threading.Lock()
        self.messages = 0
        self.recipients = 0
        self.bytes = 0
        self.unparseable = 0
        self.refused = 0
        self.dropped = 0
        self.port = _free_port()
        self.controller = Controller(
            self, hostname="127.0.0.1", port=self.port, enable_SMTPUTF8=True
        )
        self.controller.start()

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address.endswith("@" + REFUSED_DOMAIN):
            with self.lock:
                self.refused += 1
            return "550 5.1.1 Mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, server: Any, session: Any, envelope: Any
    ) -> str:
        if any(address.endswith("@" + DROP_DOMAIN) for address in envelope.rcpt_tos):
            with self.lock:
                self.dropped += 1
            server.transport.close()
            return "421 4.4.2 Connection dropped"
        content = envelope.original_content or envelope.content
        try:
            parsed = BytesParser(policy=default_policy).parsebytes(content)
            ok = bool(parsed["Subject"]) and parsed.is_multipart()
        except Exception:
            ok = False
        with self.lock:
            self.messages += 1
            self.recipients += len(envelope.rcpt_tos)
            self.bytes += len(content)
            self.unparseable += not ok
        return "250 Message accepted"

    def environment(self) -> dict[str, str]:
        return {ENV_SMTP: f"127.0.0.1:{self.port}"}

    def finish(self, jobs_completed: int) -> dict[str, Any]:
        self.controller.stop()
        with self.lock:
            return {
                "smtp": f"embedded sink on 127.0.0.1:{self.port}",
                "messages_received": self.messages,
                "recipients": self.recipients,
                "bytes_received": self.bytes,
                "unparseable": self.unparseable,
                "refused_recipients": self.refused,
                "dropped_connections": self.dropped,
            }


class ExternalSmtp:
    """A user's SMTP server: nothing to start or count."""

    def __init__(self, address: str) -> None:
        host, port = smtp_address(address)
        self.address = f"{host}:{port}"

    def environment(self) -> dict[str, str]:
        return {ENV_SMTP: self.address}

    def finish(self, jobs_completed: int) -> dict[str, Any]:
        return {"smtp": f"external server {self.address}"}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def start(run_dir: Path, options: Mapping[str, str], seed: int) -> SmtpSink | ExternalSmtp:
    if "smtp" in options:
        return ExternalSmtp(options["smtp"])
    return SmtpSink()


WORKLOAD = Workload(
    name="email",
    summary="invoice emails from Jinja2 templates with attachments, sent over SMTP "
    "(embedded sink on loopback, or --smtp HOST:PORT)",
    generate=generate,
    reference_worker="worker_soak.workloads.mail:EmailWorker",
    faulty={
        "archive": FaultyWorker(
            "worker_soak.workloads.mail:ArchivingEmailWorker", "memory", "keeps every sent message"
        )
    },
    options={"smtp": "HOST:PORT of an SMTP server to send to instead of the embedded sink"},
    start=start,
)
