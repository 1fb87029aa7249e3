"""The email workload sends real MIME messages over SMTP to a real sink on loopback."""

from __future__ import annotations

import re
import smtplib
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from worker_soak.workloads.mail import (
    DROP_DOMAIN,
    REFUSED_DOMAIN,
    EmailWorker,
    InvalidRecipientError,
    SmtpSink,
    generate,
)
from worker_soak.workloads.strategies import email_jobs


@pytest.fixture(scope="module")
def sink() -> Iterator[SmtpSink]:
    server = SmtpSink()
    with pytest.MonkeyPatch.context() as patch:
        for name, value in server.environment().items():
            patch.setenv(name, value)
        yield server
    server.finish(0)


@pytest.fixture
def worker(sink: SmtpSink) -> Iterator[EmailWorker]:
    made = EmailWorker()
    made.setup()
    yield made
    made.teardown()


def test_generated_emails_arrive_parseable(sink: SmtpSink, worker: EmailWorker) -> None:
    """30 medium emails: 30 messages, 30 recipients, every one parseable, attachments in."""
    before = (sink.messages, sink.recipients, sink.bytes)
    for job in generate(30, 4, {"profile": "medium"}):
        worker.handle(job)
    assert (sink.messages - before[0], sink.recipients - before[1]) == (30, 30)
    assert sink.bytes - before[2] > 30 * 20_000  # every medium email carries >= 20 KB
    assert sink.unparseable == 0


def test_large_profile_attaches_the_rendered_invoice(sink: SmtpSink, worker: EmailWorker) -> None:
    """A large-profile email carries the pdf workload's invoice as application/pdf."""
    from worker_soak.workloads.mail import compose

    job = next(generate(1, 0, {"profile": "large"}))
    message = compose(job, worker.html, worker.text)
    (attachment,) = list(message.iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_content().startswith(b"%PDF-")


def test_refused_recipient_is_a_job_error_and_the_worker_goes_on(
    sink: SmtpSink, worker: EmailWorker
) -> None:
    """550 for the recipient raises; the next job is delivered on a fresh connection."""
    job = next(generate(1, 0, {}))
    refused = {**job, "to": {"name": "Nobody", "address": f"x@{REFUSED_DOMAIN}"}}
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        worker.handle(refused)
    before = sink.messages
    worker.handle(job)
    assert sink.messages == before + 1


def test_dropped_connection_is_a_job_error_and_the_worker_reconnects(
    sink: SmtpSink, worker: EmailWorker
) -> None:
    """The sink hangs up mid-delivery: the job fails, the next one goes through."""
    job = next(generate(1, 0, {}))
    dropped = {**job, "to": {"name": "Nobody", "address": f"x@{DROP_DOMAIN}"}}
    with pytest.raises(smtplib.SMTPServerDisconnected):
        worker.handle(dropped)
    before = sink.messages
    worker.handle(job)
    assert sink.messages == before + 1


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(job=email_jobs())
def test_any_email_job_is_delivered_or_fails_as_a_job(
    sink: SmtpSink, worker: EmailWorker, job: dict[str, Any]
) -> None:
    """Whatever the payload, handle() delivers it or raises a delivery error (refused, dropped)
    or says the address is malformed; plain addresses are always delivered."""
    address = job["to"]["address"]
    plain = re.fullmatch(r"[a-z0-9]+(\.[a-z0-9]+)*@example\.test", address) is not None
    try:
        assert worker.handle(job)["recipient"] == address
    except (smtplib.SMTPRecipientsRefused, smtplib.SMTPServerDisconnected):
        assert address.endswith((REFUSED_DOMAIN, DROP_DOMAIN))
    except InvalidRecipientError:
        assert not plain
