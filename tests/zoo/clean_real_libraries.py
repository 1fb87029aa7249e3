"""Real work with the standard library, done right: MIME email, JSON, hashing, SQLite."""

import hashlib
import json
import sqlite3
from email.message import EmailMessage


def handle(job: dict[str, int]) -> str:
    message = EmailMessage()
    message["From"] = "billing@example.test"
    message["To"] = f"customer{job['id']}@example.test"
    message["Subject"] = f"Invoice {job['id']}"
    message.set_content(json.dumps({"invoice": job["id"], "lines": list(range(20))}))
    message.add_attachment(b"%PDF-1.4 fake" * 50, maintype="application", subtype="pdf")
    with sqlite3.connect(":memory:") as db:
        db.execute("create table t (id integer, body text)")
        db.execute("insert into t values (?, ?)", (job["id"], message.as_string()[:200]))
    db.close()
    return hashlib.sha256(message.as_bytes()).hexdigest()
