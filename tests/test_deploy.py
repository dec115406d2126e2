"""The deployment files agree with each other: the compose file's replicas share one PostgreSQL
database and are health-checked, and its proxy shares requests between exactly those replicas
and health-checks them the same way."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from bot.storage import is_postgres_url

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"


def compose() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


def replicas(services: dict[str, Any]) -> dict[str, Any]:
    return {name: s for name, s in services.items() if "SMS_BOT_DB" in s.get("environment", {})}


def test_the_replicas_share_one_postgres_database_and_wait_for_it() -> None:
    services = compose()["services"]
    found = replicas(services)
    assert len(found) >= 2
    urls = {s["environment"]["SMS_BOT_DB"] for s in found.values()}
    assert len(urls) == 1
    (url,) = urls
    assert is_postgres_url(url) and "@postgres:" in url
    assert "healthcheck" in services["postgres"]
    for service in found.values():
        assert service["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert "/healthz" in " ".join(service["healthcheck"]["test"])


def test_the_proxy_balances_over_exactly_the_replicas_by_their_health() -> None:
    services = compose()["services"]
    caddyfile = (DEPLOY / "Caddyfile.replicas").read_text()
    (upstreams,) = re.findall(r"reverse_proxy ([^{]+)\{", caddyfile)
    assert sorted(upstreams.split()) == sorted(f"{name}:3000" for name in replicas(services))
    assert re.search(r"health_uri /healthz\b", caddyfile)
    mounted = " ".join(services["proxy"]["volumes"])
    assert "Caddyfile.replicas:/etc/caddy/Caddyfile" in mounted
