"""Rules the rendered overlays must keep, checked against the code and the configuration they deploy:
grace periods against the lease and the handlers' timeouts, probes against the URLconf and the
heartbeat, one ScaledObject per consumer Deployment counting the right queue, names Kubernetes accepts."""

from __future__ import annotations

import re

import pytest
from django.core.management import get_commands
from django.urls import resolve

from dispatcher_site import health
from dispatcher_site.config import load_config
from dispatcher_site.variables import VARIABLES
from receivers.heartbeat import HEARTBEAT_INTERVAL_SECONDS
from receivers.management.commands.consume_queue import servable_queues
from receivers.probe import MAX_SLEEP_SECONDS
from receivers.queues import QUEUES
from tests.deploy.manifests import (
    DEPLOY,
    OVERLAYS,
    consumers,
    container,
    environment,
    labelled,
    named,
    of_kind,
    pod_spec,
    rendered,
)

pytestmark = pytest.mark.parametrize("overlay", OVERLAYS)

# Queues a person waits on keep one consumer running; retry queues (every message there was delayed on
# purpose) and the operators' queues scale to zero.
LATENCY_SENSITIVE = {"close-payment", "authorization-requested", "expiration", "refund", "notifications"} | {
    "send-sms",
    "send-email",
}
SCALE_TO_ZERO = {"close-payment-retry", "refund-retry", "notifications-retry", "authorization-outcome-waiting"} | {
    "dead-letter",
    "probe",
}
MAX_REPLICAS_BOUND = 10
# KEDA's visibleonly counts exactly below 32 visible messages (it peeks 32), and falls back to counting
# delayed and in-flight messages too from there on.
VISIBLEONLY_EXACT_BELOW = 32

# The external calls a queue's handler may make one after another, at worst, read from the handlers
# (transactions/handlers, transactions/refunds): each costs at most its connect plus its read timeout.
# A tuple is one call to either service. Update this when a handler starts calling another service.
HANDLER_CALLS = {
    # e-mail and fiscal code from the PDV, closePayment, then the NPG order when a refund is requested
    "close-payment": ["PERSONAL_DATA_VAULT", "PERSONAL_DATA_VAULT", "NODO", "NPG"],
    "close-payment-retry": ["PERSONAL_DATA_VAULT", "PERSONAL_DATA_VAULT", "NODO", "NPG"],
    "expiration": ["NPG"],
    "refund": ["NPG", ("NPG", "NODE_FORWARDER")],
    "refund-retry": ["NPG", ("NPG", "NODE_FORWARDER")],
    "notifications": ["PERSONAL_DATA_VAULT", "NOTIFICATIONS_SERVICE", "NPG"],
    "notifications-retry": ["PERSONAL_DATA_VAULT", "NOTIFICATIONS_SERVICE", "NPG"],
    "authorization-requested": ["USER_STATS"],
    "authorization-outcome-waiting": ["NPG", "TRANSACTIONS_SERVICE"],
    "send-sms": [("FIRETEXT", "MMG")],  # one provider call per delivery message (a failover is a new message)
    "send-email": ["SES"],
    "dead-letter": [],
    "probe": [],
}
# After the handler, the runtime sends the follow-ups and deletes the message: two queue service calls
# of at most 5 s connect + 30 s read each (receivers.queues.service_client).
QUEUE_CALLS_SECONDS = 2 * (5 + 30)
SECRET_VARIABLES = {variable.name for variable in VARIABLES if variable.secret}
KNOWN_VARIABLES = {variable.name for variable in VARIABLES}


def config_of(overlay, document):
    return load_config(environment(overlay, document))


def consumed_queues(document) -> list[str]:
    command = container(document)["command"]
    assert command[:3] == ["python", "manage.py", "consume_queue"], command
    return [argument for argument in command[3:] if not argument.startswith("-")]


def option(command: list[str], name: str) -> str | None:
    return command[command.index(name) + 1] if name in command else None


def handler_seconds(queue: str, config) -> float:
    """The longest one message of this queue can keep a handler thread busy."""
    seconds = float(MAX_SLEEP_SECONDS) if queue == "probe" else 0.0
    for call in HANDLER_CALLS[queue]:
        services = call if isinstance(call, tuple) else (call,)
        seconds += max(
            (getattr(config, f"{s}_CONNECTION_TIMEOUT") + getattr(config, f"{s}_READ_TIMEOUT")) / 1000 for s in services
        )
    return seconds


def scaled_objects_by_target(overlay) -> dict[str, list[dict]]:
    targets: dict[str, list[dict]] = {}
    for scaled in of_kind(overlay, "ScaledObject"):
        targets.setdefault(scaled["spec"]["scaleTargetRef"]["name"], []).append(scaled)
    return targets


# --- configuration


def test_configuration_holds_only_known_variables_and_no_secret(overlay):
    for config_map in of_kind(overlay, "ConfigMap"):
        keys = set(config_map["data"])
        assert keys - KNOWN_VARIABLES == set(), "unknown variables"
        assert keys & SECRET_VARIABLES == set(), "secrets belong in the Secret event-dispatcher-secrets"
        assert "DEPLOYMENT_VERSION" in keys, "the overlay names the deployment version"


def test_every_container_gets_a_configuration_the_service_accepts(overlay):
    for document in of_kind(overlay, "Deployment") + of_kind(overlay, "CronJob"):
        sources = [next(iter(source)) for source in container(document)["envFrom"]]
        assert sources == ["configMapRef", "secretRef"], document["metadata"]["name"]
        assert container(document)["envFrom"][1]["secretRef"]["name"] == "event-dispatcher-secrets"
        config_of(overlay, document)  # raises ConfigurationError naming every bad variable


def test_every_container_runs_the_overlay_image(overlay):
    images = {container(document)["image"] for document in of_kind(overlay, "Deployment") + of_kind(overlay, "CronJob")}
    assert len(images) == 1
    assert re.fullmatch(r"[a-z0-9./-]+/event-dispatcher:[A-Za-z0-9._-]+", images.pop())


# --- web


def test_web_runs_gunicorn_in_exec_form_on_the_port_it_binds(overlay):
    web = named(overlay, "Deployment", "event-dispatcher-web")
    spec = container(web)
    config = config_of(overlay, web)

    assert spec["command"][0] == "gunicorn", "exec form: gunicorn itself is PID 1 and gets SIGTERM"
    [port] = spec["ports"]
    assert port["name"] == "http"
    assert config.GUNICORN_BIND.rsplit(":", 1)[1] == str(port["containerPort"])


@pytest.mark.parametrize(
    ("probe", "view"),
    [("startupProbe", health.liveness), ("livenessProbe", health.liveness), ("readinessProbe", health.readiness)],
)
def test_web_probes_reach_the_health_views(overlay, probe, view):
    web = named(overlay, "Deployment", "event-dispatcher-web")
    request = container(web)[probe]["httpGet"]
    config = config_of(overlay, web)

    assert resolve(request["path"]).func is view
    assert request["port"] == "http"
    hosts = [header["value"] for header in request["httpHeaders"] if header["name"] == "Host"]
    assert hosts, "probes name a Host that Django allows (the pod IP is not in DJANGO_ALLOWED_HOSTS)"
    assert hosts[0] in config.DJANGO_ALLOWED_HOSTS
    assert request["path"].lstrip("/").startswith("health/"), "exempt from the HTTPS redirect"


def test_web_grace_period_outlasts_the_pre_stop_pause_and_gunicorn_graceful_timeout(overlay):
    web = named(overlay, "Deployment", "event-dispatcher-web")
    pre_stop = container(web)["lifecycle"]["preStop"]["exec"]["command"]
    config = config_of(overlay, web)

    assert pre_stop[0] == "sleep"
    pause = int(pre_stop[1])
    assert pause >= 5, "long enough for endpoints to be removed before SIGTERM"
    assert pod_spec(web)["terminationGracePeriodSeconds"] > pause + config.GUNICORN_GRACEFUL_TIMEOUT


# --- consumers


def test_every_queue_with_a_handler_is_consumed_by_exactly_one_deployment(overlay):
    consumed = [queue for document in consumers(overlay) for queue in consumed_queues(document)]

    assert sorted(consumed) == sorted(servable_queues())


def test_consumers_have_no_fixed_replica_count(overlay):
    for document in consumers(overlay):
        assert "replicas" not in document["spec"], document["metadata"]["name"]


def test_consumer_grace_period_covers_the_lease_and_the_longest_handler(overlay):
    for document in consumers(overlay):
        config = config_of(overlay, document)
        lease = int(
            option(container(document)["command"], "--visibility-timeout") or config.CONSUMER_VISIBILITY_TIMEOUT_SECONDS
        )
        longest = max(handler_seconds(queue, config) for queue in consumed_queues(document))
        # After SIGTERM a message already received may start just before its lease ends, then run.
        needed = lease + longest + QUEUE_CALLS_SECONDS
        assert pod_spec(document)["terminationGracePeriodSeconds"] >= needed, document["metadata"]["name"]


def test_consumer_probes_read_the_heartbeat_the_process_writes(overlay):
    for document in consumers(overlay):
        spec = container(document)
        config = config_of(overlay, document)
        heartbeat = config.CONSUMER_HEARTBEAT_FILE
        writable = [mount["mountPath"] for mount in spec["volumeMounts"]]
        assert heartbeat
        assert any(heartbeat.startswith(path + "/") for path in writable), "the heartbeat needs a writable place"
        assert "httpGet" not in str(spec), "consumers serve no HTTP"
        for probe in ("startupProbe", "livenessProbe"):
            command = spec[probe]["exec"]["command"]
            assert command[:3] == ["python", "manage.py", "consumer_alive"]
            assert "consumer_alive" in get_commands()
            assert float(option(command, "--max-age")) >= 3 * HEARTBEAT_INTERVAL_SECONDS
            assert spec[probe]["timeoutSeconds"] >= 5, "Django starts in about a second of CPU"


# --- autoscaling


def test_one_scaled_object_per_consumer_deployment_and_none_for_the_web(overlay):
    targets = scaled_objects_by_target(overlay)
    names = {document["metadata"]["name"] for document in consumers(overlay)}

    assert set(targets) == names
    assert all(len(found) == 1 for found in targets.values())


def test_each_scaled_object_counts_the_visible_messages_of_its_deployment_queues(overlay):
    targets = scaled_objects_by_target(overlay)
    for document in consumers(overlay):
        config = config_of(overlay, document)
        [scaled] = targets[document["metadata"]["name"]]
        triggers = scaled["spec"]["triggers"]
        queues = consumed_queues(document)
        assert [t["metadata"]["queueName"] for t in triggers] == [
            getattr(config, QUEUES[queue].name_variable) for queue in queues
        ]
        for trigger in triggers:
            assert trigger["type"] == "azure-queue"
            assert trigger["metadata"]["queueLengthStrategy"] == "visibleonly", "delayed retries are not a backlog"


def test_latency_sensitive_queues_keep_a_consumer_and_retry_queues_scale_to_zero(overlay):
    targets = scaled_objects_by_target(overlay)
    for document in consumers(overlay):
        [scaled] = targets[document["metadata"]["name"]]
        spec, queues = scaled["spec"], set(consumed_queues(document))
        if queues & LATENCY_SENSITIVE:
            assert spec["minReplicaCount"] == 1
            # The decision to add a consumer is taken on an exact count.
            assert all(int(t["metadata"]["queueLength"]) < VISIBLEONLY_EXACT_BELOW for t in spec["triggers"])
        else:
            assert queues <= SCALE_TO_ZERO
            assert spec["minReplicaCount"] == 0
            assert all(t["metadata"]["activationQueueLength"] == "0" for t in spec["triggers"])
        assert max(spec["minReplicaCount"], 1) <= spec["maxReplicaCount"] <= MAX_REPLICAS_BOUND


def test_transient_and_dead_letter_queues_are_read_with_their_own_account(overlay):
    authentications = {document["metadata"]["name"]: document for document in of_kind(overlay, "TriggerAuthentication")}
    accounts = {}
    for scaled in of_kind(overlay, "ScaledObject"):
        for trigger in scaled["spec"]["triggers"]:
            dead_letter = (
                trigger["metadata"]["queueName"]
                == config_of(
                    overlay, named(overlay, "Deployment", scaled["spec"]["scaleTargetRef"]["name"])
                ).TRANSACTIONS_DEAD_LETTER_QUEUE_NAME
            )
            authentication = authentications[trigger["authenticationRef"]["name"]]["spec"]
            if "podIdentity" in authentication:
                assert authentication["podIdentity"]["provider"] == "azure-workload"
                accounts.setdefault(dead_letter, set()).add(trigger["metadata"]["accountName"])
            else:
                [reference] = authentication["secretTargetRef"]
                assert reference["parameter"] == "connection"
                assert reference["name"] == "event-dispatcher-secrets"
                expected = "QUEUE_DEADLETTER_CONNECTION_STRING" if dead_letter else "QUEUE_TRANSIENT_CONNECTION_STRING"
                assert reference["key"] == expected
    if accounts:
        assert len(accounts[True]) == len(accounts[False]) == 1
        assert accounts[True] != accounts[False]
    if overlay == "prod":
        assert accounts, "production reads queue lengths with a workload identity"


# --- deploy jobs


def test_gate_jobs_target_the_overlay_version_and_outwait_a_draining_consumer(overlay):
    longest_grace = max(pod_spec(document)["terminationGracePeriodSeconds"] for document in consumers(overlay))
    for action in ("stop", "start"):
        job = named(overlay, "CronJob", f"event-dispatcher-receivers-{action}")
        command = container(job)["command"]
        assert command[:4] == ["python", "manage.py", "receivers_gate", action]
        assert option(command, "--version") == "$(DEPLOYMENT_VERSION)"
        assert "--wait" in command
        timeout = float(option(command, "--timeout"))
        assert timeout >= longest_grace, "STOP waits for messages in flight, which may take the grace period"
        assert job["spec"]["jobTemplate"]["spec"]["activeDeadlineSeconds"] > timeout


def test_what_deploy_sh_applies_before_the_stop_is_the_configuration_and_the_job_templates(overlay):
    # deploy.sh applies `-l app.kubernetes.io/component in (config,deploy-job)` first, then runs jobs from it.
    for document in rendered(overlay):
        component = labelled(document, "app.kubernetes.io/component")
        if document["kind"] in ("ConfigMap", "CronJob"):
            assert component in ("config", "deploy-job"), document["metadata"]["name"]
        else:
            assert component not in ("config", "deploy-job"), document["metadata"]["name"]


def test_job_templates_never_run_on_their_own_and_deploy_sh_waits_long_enough(overlay):
    script = (DEPLOY / "deploy.sh").read_text()
    job_timeout = int(re.search(r"JOB_TIMEOUT=\$\{JOB_TIMEOUT:-(\d+)\}", script).group(1))
    for job in of_kind(overlay, "CronJob"):
        assert job["spec"]["suspend"] is True
        assert f"run_job {job['metadata']['name']}" in script, "every template is used by deploy.sh"
        spec = job["spec"]["jobTemplate"]["spec"]
        assert spec["backoffLimit"] == 0, "a failed step stops the deploy, it is not retried behind its back"
        assert spec["activeDeadlineSeconds"] <= job_timeout


# --- names


def test_names_fit_kubernetes_limits(overlay):
    for document in rendered(overlay):
        name = document["metadata"]["name"]
        assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", name), name
        assert len(name) <= 63, name
        for key, value in document["metadata"].get("labels", {}).items():
            assert len(value) <= 63, (name, key)
    for job in of_kind(overlay, "CronJob"):
        # A CronJob name is at most 52; deploy.sh names each run TEMPLATE-YYYYmmdd-HHMMSS-N, at most 63.
        assert len(job["metadata"]["name"]) + len("-20261202-104512-999") <= 63
    for document in of_kind(overlay, "Deployment") + of_kind(overlay, "CronJob"):
        assert re.fullmatch(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?", container(document)["name"])
        assert labelled(document, "app.kubernetes.io/name") == "event-dispatcher", "deploy.sh selects on it"


def test_pods_run_as_the_image_user_without_root(overlay):
    dockerfile = (DEPLOY.parent.parent / "Dockerfile").read_text()
    image_user = re.search(r"^USER (\d+)$", dockerfile, re.MULTILINE).group(1)
    for document in of_kind(overlay, "Deployment") + of_kind(overlay, "CronJob"):
        context = pod_spec(document)["securityContext"]
        assert context["runAsNonRoot"] is True
        assert str(context["runAsUser"]) == image_user
        assert container(document)["securityContext"]["readOnlyRootFilesystem"] is True
