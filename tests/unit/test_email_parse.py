"""Reading received mail (centrala/emails/parse.py, sanitize.py): charsets, encodings, broken mail,
automatic mail, bounces, quoted history, HTML made safe."""
from __future__ import annotations

from centrala.emails import parse, sanitize
from tests import email_samples as samples


def test_iso_8859_2_quoted_printable_with_an_rfc2231_attachment_name():
    m = parse.parse(samples.iso_8859_2_with_rfc2231_attachment())
    assert m.parse_error == ""
    assert m.subject == "Faktura za październik"
    assert (m.from_name, m.from_addr) == ("Paweł Żółw", "pawel@example.pl")
    assert "Dzień dobry, w załączniku faktura" in m.text
    [a] = m.attachments
    assert a.name == "Faktura za październik łódź.pdf"
    assert a.content_type == "application/pdf" and a.data == b"%PDF-1.4 fake faktura"
    assert m.message_id == "faktura-1@example.pl" and m.automatic == ""


def test_windows_1250_base64_html_is_read_and_sanitized():
    m = parse.parse(samples.windows_1250_html())
    assert "Zażółć gęślą jaźń" in m.html and "Zażółć gęślą jaźń" in m.text
    assert "alert" not in m.text          # the plain text of HTML has no script
    safe = sanitize.clean(m.html)
    for gone in ("<script", "alert", "<form", "<input", "<svg", "onload", "onclick", "javascript:", "<style"):
        assert gone not in safe, gone
    assert 'data-remote-src="https://tracker.example/pixel.gif"' in safe
    assert ' src="https://' not in safe
    assert "Zażółć gęślą jaźń" in safe


def test_an_unknown_charset_and_a_broken_base64_are_kept_with_a_marker():
    raw = (b"From: x@example.com\r\nSubject: =?x-bogus?Q?Hi?=\r\nMessage-ID: <b@x>\r\n"
           b"Content-Type: text/plain; charset=x-bogus\r\nContent-Transfer-Encoding: base64\r\n\r\n"
           b"Zm9vYmFy!!!**\r\n")
    m = parse.parse(raw)
    assert m.message_id == "b@x" and m.from_addr == "x@example.com"
    assert m.parse_error            # what could not be read is said
    assert isinstance(m.text, str)


def test_garbage_is_never_an_exception():
    for raw in (b"", b"\x00\xff\xfe garbage", b"From: <<<>>>\r\n\r\n", b"Content-Type: multipart/mixed\r\n\r\nno boundary"):
        m = parse.parse(raw)
        assert isinstance(m, parse.ParsedMail) and m.dedup_key


def test_utf8_mislabelled_as_ascii_and_8bit_cp1250_without_charset():
    raw = "From: a@b.pl\r\nSubject: x\r\nContent-Type: text/plain; charset=us-ascii\r\n" \
          "Content-Transfer-Encoding: 8bit\r\n\r\nŁódź\r\n"
    assert "Łódź" in parse.parse(raw.encode("utf-8")).text
    raw2 = b"From: a@b.pl\r\nSubject: x\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" + "Łódź".encode("cp1250")
    assert "Łódź" in parse.parse(raw2).text


def test_dedup_key_is_the_message_id_or_the_raw_digest():
    a = parse.parse(samples.plain(message_id="<same@x>", text="one"))
    b = parse.parse(samples.plain(message_id="<same@x>", text="two"))
    assert a.dedup_key == b.dedup_key
    raw = b"From: a@b\r\nSubject: no id\r\n\r\nbody"
    assert parse.parse(raw).dedup_key == parse.parse(raw).dedup_key != parse.parse(raw + b"!").dedup_key


def test_automatic_mail_is_recognised():
    cases = {"Auto-Submitted": "auto-replied", "Precedence": "bulk", "List-Id": "<news.example.com>",
             "List-Unsubscribe": "<mailto:u@x>", "Return-Path": "<>"}
    for name, value in cases.items():
        assert parse.parse(samples.plain(headers={name: value})).automatic, name
    assert parse.parse(samples.plain(headers={"Auto-Submitted": "no"})).automatic == ""
    assert parse.parse(samples.plain(headers={"Precedence": "first-class"})).automatic == ""
    assert parse.parse(samples.plain()).automatic == ""


def test_a_bounce_names_the_failed_message_and_the_reason():
    m = parse.parse(samples.bounce("c12.abc@centrala.example", "gone@example.net"))
    assert m.report is not None and m.automatic
    assert m.report.original_message_id == "c12.abc@centrala.example"
    assert m.report.recipient == "gone@example.net" and m.report.status == "5.1.1"
    assert "User unknown" in m.report.reason and m.report.failed


def test_quoted_history_is_found_for_folding():
    text = "Thanks, that works.\n\nOn Tue, 1 Dec 2026 at 10:00, Office <office@example.com> wrote:\n> Try again\n> please\n"
    fresh, quoted = parse.split_quoted(text)
    assert fresh == "Thanks, that works." and quoted.startswith("On Tue")
    pl = "Dziękuję!\n\nW dniu 01.12.2026 o 10:00, Biuro pisze:\n> Proszę spróbować\n"
    assert parse.split_quoted(pl)[0] == "Dziękuję!"
    inline = "> question one\nanswer one\n> question two\nanswer two\n"
    assert parse.split_quoted(inline) == (inline, "")
    outlook = "Yes.\n\n-----Original Message-----\nFrom: Office\nSent: Monday\n"
    assert parse.split_quoted(outlook)[0] == "Yes."
    assert parse.quote_start("no quote here") is None


def test_an_attached_message_is_one_attachment_not_body_text():
    inner = samples.plain(text="inner secret body", subject="Inner")
    raw = (b"From: a@b.pl\r\nSubject: Fwd\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=Q\r\n\r\n"
           b"--Q\r\nContent-Type: text/plain\r\n\r\nSee below\r\n--Q\r\nContent-Type: message/rfc822\r\n\r\n"
           + inner + b"\r\n--Q--\r\n")
    m = parse.parse(raw)
    assert m.text == "See below" and "inner secret body" not in m.text
    assert [a.content_type for a in m.attachments] == ["message/rfc822"]


def test_a_part_over_the_limit_is_not_kept_and_said():
    m = parse.parse(samples.iso_8859_2_with_rfc2231_attachment(), max_part_bytes=5)
    assert m.attachments == [] and "over the limit" in m.parse_error
