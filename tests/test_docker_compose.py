"""docker-compose.yml cannot run here (no Docker engine), so check it against the configuration instead."""

from pathlib import Path

import yaml

from dispatcher_site.config import VARIABLES

COMPOSE = yaml.safe_load((Path(__file__).resolve().parent.parent / "docker-compose.yml").read_text())
KNOWN = {variable.name for variable in VARIABLES}


def test_every_service_the_card_names_is_there_with_a_health_check_where_it_matters():
    services = COMPOSE["services"]
    assert set(services) >= {"web", "consumers", "postgres", "redis", "azurite"}
    for name in ("web", "postgres", "redis"):
        assert "healthcheck" in services[name], name


def test_application_services_use_only_documented_variables():
    for name in ("web", "consumers"):
        environment = COMPOSE["services"][name]["environment"]
        unknown = set(environment) - KNOWN
        assert unknown == set(), f"{name}: {sorted(unknown)}"


def test_consumers_get_more_time_to_stop_than_one_lease():
    grace = COMPOSE["services"]["consumers"]["stop_grace_period"]
    lease = next(v.default for v in VARIABLES if v.name == "CONSUMER_VISIBILITY_TIMEOUT_SECONDS")
    assert int(grace.rstrip("s")) > lease
