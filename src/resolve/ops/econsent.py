"""Electronic consent: the typed name, the time, the form version and an archived copy.

:func:`record_econsent` stores a :class:`~resolve.store.models_web.ConsentRecord`
(append-only: database triggers refuse UPDATE and DELETE) holding the
participant's typed full name, the consent form version, the time, the HTML
copy of what was agreed and its SHA-256, and writes an audit event carrying the
hash (never the name: the audit trail is read by monitors and exported).
:func:`consent_with_record` records consent (:func:`resolve.ops.consent`) and
the e-consent record in one unit of work: both or neither.

Examples
--------
>>> import tempfile, pathlib
>>> from resolve import ops
>>> db = pathlib.Path(tempfile.mkdtemp()) / "trial.db"
>>> _ = ops.init_trial(db, admin="ada", demo_seed=7)
>>> _ = ops.Client(db, user="ada").run(ops.add_user, "rc", role="enroller", password=None)
>>> rc = ops.Client(db, user="rc")
>>> rc.run(ops.screen, "P001", age=40, duration_weeks=20, pain=6, identity="1984-02-01 AB",
...        factors={"site": "sydney"}).eligible
True
>>> rid = rc.run(consent_with_record, "P001", version="1.0", typed_name="Alex Example",
...              document_html="<article><p>I agree.</p></article>")
>>> rec = rc.run(consent_record, "P001", rid)
>>> rec["typed_name"], rec["version"], rec["hash_ok"]
('Alex Example', '1.0', True)
"""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import select

from resolve.errors import DataValidationError, UnknownNameError
from resolve.ops.context import Context, TrialStateError, participant_row
from resolve.ops.enrolment import _same_site, consent
from resolve.ops.permissions import Operation
from resolve.store import audit
from resolve.store.models import User
from resolve.store.models_web import ConsentRecord

__all__ = [
    "MAX_NAME_LENGTH",
    "consent_record",
    "consent_records",
    "consent_with_record",
    "document_sha256",
    "record_econsent",
]

#: Longest typed name stored (the column's width).
MAX_NAME_LENGTH = 200


def document_sha256(document_html: str) -> str:
    """SHA-256 (hex) of the archived document's UTF-8 bytes."""
    return hashlib.sha256(document_html.encode("utf-8")).hexdigest()


def record_econsent(
    ctx: Context,
    participant: str,
    *,
    version: str,
    typed_name: str,
    document_html: str,
) -> int:
    """Store an e-consent record for a participant who consented to ``version``; its id.

    The participant must already have consented to that version (in this unit
    of work: :func:`consent_with_record`). Audited with the document's hash.

    Raises
    ------
    DataValidationError
        Unknown version, a blank or too long typed name, an empty document.
    TrialStateError
        The participant's recorded consent is not to ``version``.
    """
    ctx.require(Operation.consent)
    if version not in ctx.protocol.consent_versions:
        raise DataValidationError(
            f"unknown consent version {version!r}; "
            f"allowed: {', '.join(ctx.protocol.consent_versions)}"
        )
    name = " ".join(str(typed_name or "").split())
    if not name:
        raise DataValidationError("the participant's typed full name is required")
    if len(name) > MAX_NAME_LENGTH:
        raise DataValidationError(f"the typed name is longer than {MAX_NAME_LENGTH} characters")
    if not isinstance(document_html, str) or not document_html.strip():
        raise DataValidationError("the consent document to archive is empty")
    p = participant_row(ctx, participant, lock=True)
    _same_site(ctx, p)
    if p.consent_version != version:
        raise TrialStateError(
            f"participant {p.code!r} has not consented to version {version!r}; "
            "record the consent first"
        )
    digest = document_sha256(document_html)
    row = ConsentRecord(
        participant_id=p.id,
        version=version,
        typed_name=name,
        signed_at=audit.now(),
        document_html=document_html,
        document_sha256=digest,
        user_id=ctx.actor.id,
    )
    ctx.session.add(row)
    ctx.session.flush()
    ctx.audit(
        entity="consent_record",
        entity_id=f"{p.code}/{row.id}",
        action="create",
        new={
            "version": version,
            "signed_at": row.signed_at,
            "document_sha256": digest,
        },
    )
    return row.id


def consent_with_record(
    ctx: Context,
    participant: str,
    *,
    version: str,
    typed_name: str,
    document_html: str,
) -> int:
    """Record consent and its e-consent record in one transaction; the record's id."""
    ctx.require(Operation.consent)
    consent(ctx, participant, version=version)
    return record_econsent(
        ctx, participant, version=version, typed_name=typed_name, document_html=document_html
    )


def _as_dict(row: ConsentRecord, code: str, user: str | None) -> dict[str, Any]:
    return {
        "id": row.id,
        "participant_id": code,
        "version": row.version,
        "typed_name": row.typed_name,
        "signed_at": row.signed_at,
        "document_sha256": row.document_sha256,
        "user": user,
    }


def consent_records(ctx: Context, participant: str) -> list[dict[str, Any]]:
    """The participant's e-consent records, oldest first (without the documents)."""
    ctx.require(Operation.view_participants)
    p = participant_row(ctx, participant)
    rows = ctx.session.execute(
        select(ConsentRecord, User.name)
        .join(User, User.id == ConsentRecord.user_id)
        .where(ConsentRecord.participant_id == p.id)
        .order_by(ConsentRecord.id)
    ).all()
    return [_as_dict(r, p.code, u) for r, u in rows]


def consent_record(ctx: Context, participant: str, record_id: int) -> dict[str, Any]:
    """One e-consent record with its archived document and whether its hash still matches."""
    ctx.require(Operation.view_participants)
    p = participant_row(ctx, participant)
    found = ctx.session.execute(
        select(ConsentRecord, User.name)
        .join(User, User.id == ConsentRecord.user_id)
        .where(ConsentRecord.participant_id == p.id, ConsentRecord.id == record_id)
    ).one_or_none()
    if found is None:
        raise UnknownNameError(f"participant {p.code!r} has no consent record {record_id}")
    row, user = found
    out = _as_dict(row, p.code, user)
    out["document_html"] = row.document_html
    out["hash_ok"] = document_sha256(row.document_html) == row.document_sha256
    return out
