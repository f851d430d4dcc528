import pytest

from pbx.errors import PbxError
from pbx.mirror import find_debian_mirror


def _apt(tmp_path, sources_list="", files=None):
    (tmp_path / "sources.list.d").mkdir(parents=True)
    (tmp_path / "sources.list").write_text(sources_list)
    for name, text in (files or {}).items():
        (tmp_path / "sources.list.d" / name).write_text(text)
    return tmp_path


def test_deb822_sources_skip_security_and_pick_release(tmp_path):
    apt = _apt(tmp_path, files={"debian.sources": (
        "Types: deb\nURIs: http://security.example/debian-security\nSuites: bookworm-security\n"
        "Components: main\n\n"
        "Types: deb\n# a comment\nURIs: http://mirror.example/debian/\nSuites: bookworm bookworm-updates\n"
        "Components: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n")})
    assert find_debian_mirror(apt, codename="bookworm") == "http://mirror.example/debian"


def test_one_line_format_with_options(tmp_path):
    apt = _apt(tmp_path, sources_list=(
        "# deb http://old.example/debian bookworm main\n"
        "deb-src http://src.example/debian bookworm main\n"
        "deb [arch=amd64 signed-by=/k.gpg] http://one.example/debian bookworm main contrib\n"))
    assert find_debian_mirror(apt, codename="bookworm") == "http://one.example/debian"


def test_disabled_and_missing_sources_give_a_clear_error(tmp_path):
    apt = _apt(tmp_path, files={"x.sources": "Types: deb\nEnabled: no\nURIs: http://a/debian\nSuites: bookworm\n"})
    with pytest.raises(PbxError, match="CENTRALA_DEBIAN_MIRROR"):
        find_debian_mirror(apt, codename="bookworm")


def test_this_machine_has_a_mirror():
    assert find_debian_mirror().startswith(("http://", "https://", "file:"))
