"""Response templates for email (EML-4): a title and a rich-text body (HTML cleaned with nh3),
listed and searched by title (and text) in Settings / Email and in the composer."""
from __future__ import annotations

from sqlalchemy import func, or_, select

from centrala.models_email import EmailTemplate

from .rich_text import clean_html, to_text

MAX_TITLE = 100
MAX_BODY = 100_000


class TemplateInvalid(ValueError):
    """``problems`` = {field: code}; codes: required, too_long."""

    def __init__(self, problems: dict[str, str]):
        self.problems = problems
        super().__init__(", ".join(f"{f}: {c}" for f, c in problems.items()))


def search(s, query: str = "", limit: int = 200) -> list[EmailTemplate]:
    """Templates whose title (or body) contains ``query``, case-insensitive; titles first, A–Z."""
    stmt = select(EmailTemplate)
    q = (query or "").strip().lower()
    if q:
        like = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        in_title = func.lower(EmailTemplate.title).like(like, escape="\\")
        stmt = stmt.where(or_(in_title, func.lower(EmailTemplate.body).like(like, escape="\\")))
    rows = list(s.scalars(stmt.order_by(func.lower(EmailTemplate.title), EmailTemplate.id).limit(limit)))
    if q:   # a hit in the title before a hit in the text only
        rows.sort(key=lambda t: q not in t.title.lower())
    return rows


def _clean(title: str, body: str) -> tuple[str, str]:
    title, body = (title or "").strip(), clean_html(body or "")
    problems = {}
    if not title:
        problems["title"] = "required"
    elif len(title) > MAX_TITLE:
        problems["title"] = "too_long"
    if not to_text(body) and "<img" not in body:
        problems["body"] = "required"
    elif len(body) > MAX_BODY:
        problems["body"] = "too_long"
    if problems:
        raise TemplateInvalid(problems)
    return title, body


def create(s, title: str, body: str) -> EmailTemplate:
    title, body = _clean(title, body)
    t = EmailTemplate(title=title, body=body)
    s.add(t)
    s.flush()
    return t


def update(s, template: EmailTemplate, title: str, body: str) -> EmailTemplate:
    template.title, template.body = _clean(title, body)
    s.flush()
    return template


def remove(s, template: EmailTemplate) -> None:
    s.delete(template)
    s.flush()


def to_json(t: EmailTemplate) -> dict:
    return {"id": t.id, "title": t.title, "body": t.body, "text": to_text(t.body)}
