"""Composes a MIME message with the standard library: each message's unique boundary is
compiled into a regex, so re's 512-entry cache fills for the first ~500 messages."""

from email.message import EmailMessage


def handle(job: dict[str, int]) -> int:
    message = EmailMessage()
    message["Subject"] = f"Invoice {job['id']}"
    message["To"] = f"customer{job['id']}@example.test"
    message.set_content(f"Dear customer, invoice {job['id']} is attached.")
    message.add_attachment(b"%PDF-1.4" * 64, maintype="application", subtype="pdf")
    return len(message.as_bytes())
