"""Upload names made safe (centrala/upload_names.py)."""
import pytest

from centrala.upload_names import safe_name, shown_name


@pytest.mark.parametrize("raw,safe", [
    ("Lista klientów.csv", "Lista klientów.csv"),
    ("../../etc/passwd", "passwd"),
    ("C:\\Users\\ola\\kontakty.csv", "kontakty.csv"),
    ("a\x00b\x1b\x7f.csv", "ab.csv"),
    ("invoice\u202excod.csv", "invoicexcod.csv"),
    ("zero\u200bwidth.csv", "zerowidth.csv"),
    ("..", "default.csv"), ("", "default.csv"), (None, "default.csv"), ("dir/", "default.csv"),
    ("x" * 300 + ".csv", "x" * 251 + ".csv"),
    ("y" * 300, "y" * 255),
    ("Cafe\u0301.csv", "Café.csv"),                # NFC
    ("new emoji \U0001FAE8.csv", "new emoji \U0001FAE8.csv"),   # newer than Python's tables: kept
])
def test_safe_name(raw, safe):
    assert safe_name(raw, "default.csv") == safe


def test_shown_name_marks_unsafe_characters_and_cuts():
    assert shown_name("a\u202eb\x00c") == "a\ufffdb\ufffdc"
    assert shown_name("z" * 2000) == "z" * 79 + "…"

