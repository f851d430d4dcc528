"""Received HTML made safe to show in the panel: ``nh3`` (the Ammonia sanitizer), not a home-made
filter.

What stays: text formatting, tables, links (``rel="noopener noreferrer"``), images.  What goes:
script, style sheets, forms and their inputs, inline SVG and MathML, iframes/objects, event
handlers, ``javascript:`` and ``data:`` URLs, and ``style`` attributes that load anything
(``url(``, ``expression(``, ``@import``).  Remote images do not load by themselves: their ``src``
becomes ``data-remote-src`` (the UI copies it back when the agent asks to show images), so a
tracking pixel learns nothing until then.  ``cid:`` images (the message's own parts) stay.
"""
from __future__ import annotations

import re

import nh3

TAGS = {
    "a", "abbr", "b", "blockquote", "br", "caption", "center", "cite", "code", "col", "colgroup", "dd", "del",
    "details", "div", "dl", "dt", "em", "font", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins",
    "kbd", "li", "mark", "ol", "p", "pre", "q", "s", "small", "span", "strike", "strong", "sub", "summary",
    "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "tt", "u", "ul",
}
_COMMON = {"style", "title", "dir", "lang", "align", "class"}
ATTRIBUTES = {
    "*": _COMMON,
    "a": {"href", "name"},
    "img": {"src", "alt", "width", "height", "border", "data-remote-src"},
    "font": {"color", "face", "size"},
    "table": {"width", "border", "cellpadding", "cellspacing", "bgcolor"},
    "td": {"width", "height", "colspan", "rowspan", "valign", "bgcolor", "nowrap"},
    "th": {"width", "height", "colspan", "rowspan", "valign", "bgcolor", "nowrap"},
    "tr": {"valign", "bgcolor"},
    "col": {"width", "span"},
    "ol": {"start", "type"},
    "blockquote": {"cite", "type"},
}
URL_SCHEMES = {"http", "https", "mailto", "cid", "tel"}
_LOADS = re.compile(r"(?i)url\s*\(|expression\s*\(|@import|behavior\s*:|-moz-binding")
_REMOTE_SRC = re.compile(r'(<img\b[^>]*?\s)src="((?:https?:)?//[^"]*)"', re.I)


def _attribute(tag: str, name: str, value: str) -> str | None:
    if name == "style" and _LOADS.search(value):
        return None
    if name == "data-remote-src":        # only we write it (below): one that came in the mail goes
        return None
    return value


def clean(html: str | None) -> str | None:
    """The sanitized HTML (None stays None)."""
    if html is None:
        return None
    safe = nh3.clean(html, tags=TAGS, attributes=ATTRIBUTES, url_schemes=URL_SCHEMES,
                     clean_content_tags={"script", "style", "svg", "math", "template", "noscript", "title",
                                         "textarea", "select", "option"},
                     attribute_filter=_attribute, link_rel="noopener noreferrer", strip_comments=True)
    return block_remote_images(safe)


def block_remote_images(safe_html: str) -> str:
    """Remote images' ``src`` kept as ``data-remote-src`` (the sanitizer's output is normalised:
    attributes double-quoted, so this rewrite sees every one)."""
    return _REMOTE_SRC.sub(lambda m: f'{m.group(1)}data-remote-src="{m.group(2)}"', safe_html)
