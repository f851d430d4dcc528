"""Rich text that administrators and agents write for outgoing mail — signatures and response
templates (EML-4) — cleaned with ``nh3`` (the Ammonia sanitizer) before it is stored.

Only formatting survives: paragraphs, line breaks, bold/italic/underline, lists, quotes, links
(http, https, mailto; ``rel="noopener noreferrer"``) and images (http, https or ``cid:``).  No
script, style, form, iframe or SVG; no event attributes.  (Inbound mail has its own, stricter
policy in ``sanitize.py``.)
"""
from __future__ import annotations

import nh3

TAGS = {"p", "br", "div", "span", "b", "strong", "i", "em", "u", "s", "ul", "ol", "li", "blockquote", "a",
        "img", "h1", "h2", "h3", "hr", "table", "thead", "tbody", "tr", "td", "th"}
ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "width", "height"}, "td": {"colspan", "rowspan"},
              "th": {"colspan", "rowspan"}}
SCHEMES = {"http", "https", "mailto", "cid"}
MAX_LENGTH = 100_000


def clean_html(html: str) -> str:
    """``html`` with everything but formatting removed (plain text is escaped, so it stays text)."""
    html = (html or "")[:MAX_LENGTH]
    return nh3.clean(html, tags=TAGS, attributes=ATTRIBUTES, url_schemes=SCHEMES,
                     link_rel="noopener noreferrer").strip()


def to_text(html: str) -> str:
    """A plain-text rendering (for searching and the text/plain part): tags dropped, blocks as lines."""
    import re
    from html import unescape

    text = re.sub(r"(?i)<br\s*/?>|</(p|div|li|h[1-3]|tr|blockquote)>", "\n", html or "")
    return unescape(nh3.clean(text, tags=set())).strip()
