"""Tables of the web application: sessions, API tokens, login attempts, participant
links and e-consent records (migration 0003).

Secrets (session ids, tokens, link tokens) are stored only as SHA-256 hashes: a
database reader cannot use them.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from resolve.store.models import Base

__all__ = ["ApiToken", "ConsentRecord", "LoginAttempt", "ParticipantLink", "WebSession"]


class WebSession(Base):
    """A browser session (server-side; the cookie holds a random id, stored hashed)."""

    __tablename__ = "web_session"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[str] = mapped_column(String(40))
    expires_at: Mapped[str] = mapped_column(String(40))
    last_seen_at: Mapped[str] = mapped_column(String(40))
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


class ApiToken(Base):
    """A bearer token for scripts (OAuth2 password flow), stored hashed."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    created_at: Mapped[str] = mapped_column(String(40))
    expires_at: Mapped[str] = mapped_column(String(40))
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


class LoginAttempt(Base):
    """One login attempt (for rate limiting and lockout)."""

    __tablename__ = "login_attempt"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(128))
    ip: Mapped[str] = mapped_column(String(64))
    at: Mapped[str] = mapped_column(String(40))
    ok: Mapped[bool] = mapped_column(Boolean)


class ParticipantLink(Base):
    """A participant's personal, expiring link to the questionnaires of one visit."""

    __tablename__ = "participant_link"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participant.id"))
    visit: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[str] = mapped_column(String(40))
    expires_at: Mapped[str] = mapped_column(String(40))
    created_by: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    used_at: Mapped[str | None] = mapped_column(String(40))
    #: Answers saved so far (resumable), not yet submitted; cleared on submit.
    draft: Mapped[dict[str, Any]] = mapped_column(JSON)


class ConsentRecord(Base):
    """An e-consent: typed name, time, form version and the archived document."""

    __tablename__ = "consent_record"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participant.id"))
    version: Mapped[str] = mapped_column(String(64))
    typed_name: Mapped[str] = mapped_column(String(200))
    signed_at: Mapped[str] = mapped_column(String(40))
    document_html: Mapped[str] = mapped_column(Text)
    document_sha256: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
