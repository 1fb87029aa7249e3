"""Opens an SQLite database per job and keeps the connection: SQLite's own (native) memory
grows with every job, most of it outside Python's allocator."""

import sqlite3

_connections: list[sqlite3.Connection] = []


def handle(job: dict[str, int]) -> None:
    db = sqlite3.connect(":memory:")  # LEAK
    db.execute("create table audit (line text)")  # LEAK
    db.execute("insert into audit values (?)", (f"job {job['id']}",))  # LEAK
    _connections.append(db)
