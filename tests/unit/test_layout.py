"""The layout and dependency direction of DESIGN.md: web -> agents <- pbx."""
import ast
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def _imports(package: str) -> set[str]:
    found = set()
    for path in (ROOT / package).rglob("*.py"):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return found


def test_top_level_layout():
    for name in ("agents", "pbx", "web", "asterisk-conf", "dialplan", "recordings", "tests",
                 "docker-compose.yml", "setup.cfg", "pyproject.toml", "README.md"):
        assert (ROOT / name).exists(), name


def test_agents_imports_neither_flask_nor_asterisk_code():
    bad = _imports("agents") & {"flask", "flask_socketio", "web", "pbx", "panoramisk", "asyncari",
                                "centrala", "sqlalchemy"}
    assert not bad


def test_web_and_pbx_do_not_import_each_other():
    assert "pbx" not in _imports("web")
    assert "web" not in _imports("pbx") and "flask" not in _imports("pbx")


def test_no_eventlet_or_gevent():
    for pkg in ("agents", "pbx", "web", "centrala"):
        assert not _imports(pkg) & {"eventlet", "gevent", "ari", "pyst2", "asterisk"}


def test_docker_compose_is_production_shaped():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"asterisk", "postgres", "redis", "web", "pbx"} <= set(services)
    for name in ("asterisk", "postgres", "redis", "web", "pbx"):
        assert "healthcheck" in services[name], f"{name} has no health check"
    for name in ("asterisk", "postgres", "redis", "web", "pbx"):
        assert services[name].get("volumes") or name == "redis", f"{name} has no volume"
    assert {"pgdata", "centrala-data"} <= set(compose["volumes"])
    web_env = services["web"]["environment"]
    assert web_env["CENTRALA_DATABASE_URL"].startswith("postgresql://")
    assert web_env["CENTRALA_REDIS_URL"].startswith("redis://")
    # AMI (5038) and ARI (8088) are never published outside the host
    for svc in services.values():
        for port in svc.get("ports", []):
            assert not any(str(port).split(":")[-1].startswith(p) for p in ("5038", "8088")), port
    for name in ("web", "pbx"):
        deps = services[name]["depends_on"]
        assert deps["postgres"]["condition"] == "service_healthy"
