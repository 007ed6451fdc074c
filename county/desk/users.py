"""County staff users of the desk, with one role each (hashed passwords only)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from werkzeug.security import generate_password_hash

from county.desk.db import DeskDb

ROLES = ("viewer", "handler", "tracer")
#: What each role may do beyond reading alerts, the fleet and the ledgers.
PERMISSIONS = {
    "viewer": frozenset({"view"}),
    "handler": frozenset({"view", "ack", "audit", "revoke"}),
    "tracer": frozenset({"view", "trace"}),
}
NAME = re.compile(r"[A-Za-z0-9_.-]{2,32}")
MIN_PASSWORD = 10


@dataclass(frozen=True)
class User:
    name: str
    role: str
    password_hash: str

    def may(self, action: str) -> bool:
        return action in PERMISSIONS.get(self.role, frozenset())


def check_new(name: str, role: str, password: str) -> str | None:
    """Why these cannot make a user, or None."""
    if not NAME.fullmatch(name):
        return "user name: 2-32 of A-Z a-z 0-9 _ . -"
    if role not in ROLES:
        return f"role must be one of {', '.join(ROLES)}"
    if len(password) < MIN_PASSWORD:
        return f"password must have at least {MIN_PASSWORD} characters"
    return None


def add_user(db: DeskDb, name: str, role: str, password: str, now: datetime) -> bool:
    """Create or update a user (a new password and role for an existing name); True if new."""
    problem = check_new(name, role, password)
    if problem:
        raise ValueError(problem)
    hashed = generate_password_hash(password)
    existed = get_user(db, name) is not None
    db.execute(
        "INSERT INTO desk_users (name, role, password_hash, created_at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (name) DO UPDATE SET role = excluded.role, "
        "password_hash = excluded.password_hash",
        (name, role, hashed, now),
    )
    return not existed


def get_user(db: DeskDb, name: str) -> User | None:
    row = db.one("SELECT name, role, password_hash FROM desk_users WHERE name = ?", (name,))
    return None if row is None else User(row[0], row[1], row[2])
