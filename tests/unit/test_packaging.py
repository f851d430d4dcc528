"""``pip install .`` ships the templates, static files, translations and migrations without a
screen of setuptools warnings (issue 12, defect 11): the data directories are declared packages."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_build_includes_package_data_without_warnings(tmp_path):
    build = subprocess.run(
        [sys.executable, "-c", "import setuptools; setuptools.setup()", "-q",
         "egg_info", "--egg-base", str(tmp_path), "build_py", "--build-lib", str(tmp_path / "lib")],
        cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert build.returncode == 0, build.stderr[-3000:]
    output = build.stdout + build.stderr
    assert "would be ignored" not in output and "absent from the `packages`" not in output, output[-3000:]
    lib = tmp_path / "lib"
    for shipped in ("web/templates/base.html", "web/templates/settings/user_form.html",
                    "web/translations/pl/LC_MESSAGES/messages.po", "web/static/widget",
                    "centrala/migrations/env.py", "centrala/migrations/versions/0001_foundation.py",
                    "pbx/controller/__init__.py"):
        assert (lib / shipped).exists(), shipped
