"""The deployment assets parse, agree with each other and with the code, and chart only real metrics.

Runs without Docker: it reads docker-compose.yml, the Dockerfile, .github/workflows/ci.yml and
everything under deploy/, and checks them the way compose, Prometheus, Grafana and kubectl would.
"""

from __future__ import annotations

import fnmatch
import importlib.util
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import promql_parser
import pytest
import yaml

from payflow_settings.base import DEFAULT_PORTS

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
COMPOSE_FILE = ROOT / "docker-compose.yml"
CI_WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"

# The exposed set: every metric name that dashboards and alert rules may use, exactly as the
# services expose it on /metrics (histograms by their _bucket series). Keep this the only list;
# a check against live /metrics output after the E2E run is to be added beside it.
# The orchestrator counts started sagas as payflow_transfers_started_total: a prometheus_client
# Counter named payflow_transfers_created would clash with the payflow_transfers_created series
# that the payflow_transfers_total counter already emits.
EXPOSED_METRICS = frozenset(
    {
        # prometheus-fastapi-instrumentator, every process
        "http_requests_total",  # {handler, method, status="2xx"...}
        "http_request_duration_seconds_bucket",  # {handler, method, le}
        # orchestrator
        "payflow_transfers_total",  # {kind, status=completed|failed, failure_code}
        "payflow_transfers_started_total",  # {kind}
        "payflow_saga_step_duration_seconds_bucket",  # {step, le}
        "payflow_saga_transitions_total",  # {kind, from_state, to_state}
        "payflow_saga_compensations_total",  # {step}
        "payflow_saga_step_resends_total",  # {step}
        "payflow_sagas_in_flight",
        "payflow_sagas_past_deadline",
        # libs/messaging, every process with a publisher or a consumer
        "payflow_stream_messages_published_total",  # {stream, type}
        "payflow_stream_messages_handled_total",  # {stream, type}
        "payflow_stream_messages_failed_total",  # {stream, type}
        "payflow_stream_dead_letters_total",  # {stream}
        "payflow_stream_pending_messages",  # {stream, group}
        "payflow_stream_dead_letter_messages",  # {stream}
        "payflow_stream_messages_rejected_total",  # {stream, reason}
        # webhooks and webhooks-worker
        "payflow_webhook_deliveries_total",  # {outcome=succeeded|failed|retrying|disabled}
        "payflow_webhook_attempts_total",  # {result}
        "payflow_webhook_delivery_latency_seconds_bucket",  # {le}
        # gateway
        "payflow_idempotent_replays_total",
        "payflow_auth_failures_total",  # {reason}
    }
)
# Series Prometheus makes itself for every scrape target; no service exposes them.
PROMETHEUS_OWN_SERIES = frozenset({"up"})

PROCESS_MODULES = {
    "gateway": "payflow_gateway",
    "orchestrator": "payflow_orchestrator",
    "wallet": "payflow_wallet",
    "ledger": "payflow_ledger",
    "webhooks": "payflow_webhooks",
    "webhooks-worker": "payflow_webhooks.worker",
}
INTERNAL_APIS = ("orchestrator", "wallet", "ledger", "webhooks")
# The processes on the saga bus, the only ones that hold its signing keys.
BUS_PROCESSES = ("orchestrator", "wallet", "ledger", "webhooks")
REDIS_PASSWORD_VARIABLE = "${PAYFLOW_REDIS_PASSWORD:-dev-redis-password-change-me}"
# The gateway's metrics live on a port of their own (PAYFLOW_METRICS_PORT), never exposed:
# in production its public port serves no /metrics (docs/phases/PHASE-8-HARDENING.md).
METRICS_PORTS = {**DEFAULT_PORTS, "gateway": 8100}
REQUIRED_ALERTS = {
    "PayflowTransferFailureRateHigh",
    "PayflowWebhookFailureRateHigh",
    "PayflowApiLatencyP95High",
    "PayflowStreamBacklogHigh",
    "PayflowSagasPastDeadline",
    "PayflowDeadLettersPresent",
    "PayflowBusMessagesRejected",
}
DASHBOARD_FILES = ("payments-overview.json", "saga-health.json", "webhook-delivery.json")


def load_yaml_documents(path: Path) -> list[Any]:
    with path.open(encoding="utf-8") as handle:
        return [doc for doc in yaml.safe_load_all(handle) if doc is not None]


def load_yaml(path: Path) -> Any:
    (document,) = load_yaml_documents(path)
    return document


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document: dict[str, Any] = load_yaml(COMPOSE_FILE)
    return document


@pytest.fixture(scope="module")
def alert_rules() -> list[dict[str, Any]]:
    rules = load_yaml(DEPLOY / "prometheus" / "alerts.yml")
    return [rule for group in rules["groups"] for rule in group["rules"]]


@pytest.fixture(scope="module")
def dashboards() -> dict[str, dict[str, Any]]:
    folder = DEPLOY / "grafana" / "dashboards"
    return {path.name: json.loads(path.read_text()) for path in sorted(folder.glob("*.json"))}


@pytest.fixture(scope="module")
def k8s_objects() -> list[dict[str, Any]]:
    kustomization = load_yaml(DEPLOY / "k8s" / "kustomization.yaml")
    objects: list[dict[str, Any]] = []
    for resource in kustomization["resources"]:
        objects.extend(load_yaml_documents(DEPLOY / "k8s" / resource))
    return objects


def panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in dashboard["panels"]:
        if panel["type"] != "row":
            yield panel
        yield from panel.get("panels", [])


def dashboard_expressions(dashboard: dict[str, Any]) -> Iterator[str]:
    for panel in panels(dashboard):
        for target in panel["targets"]:
            yield target["expr"]


def metric_names(expression: str) -> set[str | None]:
    names: set[str | None] = set()

    def visit(node: Any) -> bool:
        if isinstance(node, promql_parser.VectorSelector):
            names.add(node.name)
        return True

    promql_parser.walk(promql_parser.parse(expression), visit)
    return names


def check_schema(builtin_schema: str, path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", builtin_schema, str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_every_yaml_and_json_file_of_the_deployment_parses() -> None:
    yaml_files = [COMPOSE_FILE, CI_WORKFLOW, *DEPLOY.rglob("*.yml"), *DEPLOY.rglob("*.yaml")]
    json_files = list(DEPLOY.rglob("*.json"))
    assert len(yaml_files) >= 15
    assert len(json_files) == 3
    for path in yaml_files:
        assert load_yaml_documents(path), f"{path} holds no document"
    for path in json_files:
        assert json.loads(path.read_text()), f"{path} is empty"


def test_compose_file_follows_the_compose_specification() -> None:
    result = check_schema("vendor.compose-spec", COMPOSE_FILE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_ci_workflow_follows_the_github_workflow_schema() -> None:
    result = check_schema("vendor.github-workflows", CI_WORKFLOW)
    assert result.returncode == 0, result.stdout + result.stderr


def test_ci_runs_the_linters_the_type_checker_and_the_whole_suite() -> None:
    steps = load_yaml(CI_WORKFLOW)["jobs"]["checks"]["steps"]
    commands = [step["run"] for step in steps if "run" in step]
    assert commands == [
        "uv sync --frozen --all-packages",
        "uv run ruff check .",
        "uv run ruff format --check .",
        "uv run mypy",
        "uv run lint-imports",
        "make test",
    ]


def test_ci_builds_the_image_and_waits_for_the_whole_stack_to_be_healthy() -> None:
    steps = load_yaml(CI_WORKFLOW)["jobs"]["compose"]["steps"]
    commands = " ".join(step["run"] for step in steps if "run" in step)
    assert "docker compose build" in commands
    assert "docker compose up --detach --wait" in commands
    assert "promtool" in commands
    for port in DEFAULT_PORTS.values():
        assert str(port) in commands


def test_every_compose_service_has_a_healthcheck(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        healthcheck = service.get("healthcheck")
        assert healthcheck and healthcheck.get("test"), f"{name} has no healthcheck"
        assert not healthcheck.get("disable", False), f"{name} disables its healthcheck"


def test_every_dependency_waits_for_a_healthy_service(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name, service in services.items():
        depends_on = service.get("depends_on", {})
        assert isinstance(depends_on, dict), (
            f"{name}: the list form of depends_on waits for nothing"
        )
        for dependency, rule in depends_on.items():
            assert dependency in services, f"{name} depends on unknown {dependency}"
            assert rule == {"condition": "service_healthy"}, f"{name} -> {dependency}: {rule}"


def test_each_payflow_process_runs_its_module_and_checks_its_own_readiness(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    for name, module in PROCESS_MODULES.items():
        service = services[name]
        port = DEFAULT_PORTS[name]
        assert service["command"] == ["python", "-m", module]
        assert service["build"]["dockerfile"] == "Dockerfile"
        probe = " ".join(service["healthcheck"]["test"])
        assert f"http://127.0.0.1:{port}/readyz" in probe, name
        assert {"mongo", "redis"} <= set(service["depends_on"]), name


def test_each_payflow_process_gets_stores_peers_secrets_and_tracing(
    compose: dict[str, Any],
) -> None:
    for name in PROCESS_MODULES:
        env = compose["services"][name]["environment"]
        assert env["PAYFLOW_HOST"] == "0.0.0.0"
        assert env["PAYFLOW_MONGO_URL"].startswith("mongodb://mongo:27017/")
        assert "replicaSet=rs0" in env["PAYFLOW_MONGO_URL"]
        assert env["PAYFLOW_REDIS_URL"].startswith("redis://redis:6379/")
        for peer in INTERNAL_APIS:
            variable = f"PAYFLOW_{peer.upper()}_URL"
            assert env[variable] == f"http://{peer}:{DEFAULT_PORTS[peer]}", (name, variable)
        # Secrets come from the environment; the defaults are the development placeholders.
        assert env["PAYFLOW_INTERNAL_TOKEN"].startswith("${PAYFLOW_INTERNAL_TOKEN:-")
        assert env["PAYFLOW_JWT_SECRET"].startswith("${PAYFLOW_JWT_SECRET:-")
        assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://jaeger:4318"
        assert env["OTEL_SERVICE_NAME"] == f"payflow-{name}"


def test_stores_are_a_mongo_replica_set_and_a_redis_that_never_evicts(
    compose: dict[str, Any],
) -> None:
    mongo = compose["services"]["mongo"]
    assert mongo["image"].startswith("mongo:7")
    assert mongo["command"][:3] == ["mongod", "--replSet", "rs0"]
    initiation = mongo["healthcheck"]["test"][-1]
    assert "rs.initiate" in initiation
    assert "host: 'mongo:27017'" in initiation
    redis = compose["services"]["redis"]
    assert redis["image"].startswith("redis:7")
    assert redis["command"] == [
        "redis-server",
        *("--appendonly", "yes"),
        *("--maxmemory-policy", "noeviction"),
        *("--requirepass", REDIS_PASSWORD_VARIABLE),
    ]


def test_jaeger_takes_otlp_and_serves_its_ui(compose: dict[str, Any]) -> None:
    ports = {entry.rsplit(":", 1)[-1] for entry in compose["services"]["jaeger"]["ports"]}
    assert {"4317", "4318", "16686"} <= ports


def test_the_entry_points_the_deployment_runs_exist() -> None:
    for module in PROCESS_MODULES.values():
        assert importlib.util.find_spec(f"{module}.__main__") is not None, module


def test_the_image_runs_as_a_non_root_user_and_binds_all_interfaces() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    final_stage = dockerfile.split("\nFROM ")[-1]
    assert re.search(r"^USER 10001:10001$", final_stage, re.MULTILINE)
    assert "PAYFLOW_HOST=0.0.0.0" in final_stage
    assert "ARG PYTHON_IMAGE=python:3.11-slim" in dockerfile
    for name in ("gateway", "orchestrator", "wallet", "ledger", "webhooks"):
        assert f"--package payflow-{name}" in dockerfile
    assert "uv sync --frozen --no-dev" in dockerfile


def test_dockerignore_keeps_everything_the_image_build_copies() -> None:
    ignored = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    copied: list[str] = []
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        words = line.split()
        if words[:1] == ["COPY"] and not any(word.startswith("--from") for word in words):
            copied.extend(words[1:-1])
    assert {"pyproject.toml", "uv.lock", ".python-version", "apps", "libs"} <= set(copied)
    for source in copied:
        assert not any(fnmatch.fnmatch(source, pattern) for pattern in ignored), source


def test_prometheus_scrapes_every_process_on_its_port() -> None:
    config = load_yaml(DEPLOY / "prometheus" / "prometheus.yml")
    targets = {
        job["job_name"]: [t for static in job["static_configs"] for t in static["targets"]]
        for job in config["scrape_configs"]
    }
    for name in PROCESS_MODULES:
        assert targets[name] == [f"{name}:{METRICS_PORTS[name]}"], name
    for rule_file in config["rule_files"]:
        assert (DEPLOY / "prometheus" / rule_file).is_file(), rule_file


def test_the_gateway_metrics_port_is_where_prometheus_looks_and_is_never_published(
    compose: dict[str, Any],
) -> None:
    gateway = compose["services"]["gateway"]
    assert gateway["environment"]["PAYFLOW_METRICS_PORT"] == str(METRICS_PORTS["gateway"])
    published = {str(entry).split(":")[-1] for entry in gateway["ports"]}
    assert published == {str(DEFAULT_PORTS["gateway"])}


def test_alert_rules_cover_the_required_alerts_with_operator_annotations(
    alert_rules: list[dict[str, Any]],
) -> None:
    names = [rule["alert"] for rule in alert_rules]
    assert len(names) == len(set(names))
    assert set(names) >= REQUIRED_ALERTS
    for rule in alert_rules:
        assert re.fullmatch(r"\d+[smh]", rule["for"]), rule["alert"]
        assert rule["labels"]["severity"] in {"page", "ticket"}, rule["alert"]
        assert len(rule["annotations"]["summary"]) > 20, rule["alert"]
        assert len(rule["annotations"]["description"]) > 100, rule["alert"]
        anchor = rule["alert"].lower()
        assert rule["annotations"]["runbook"] == f"docs/operator-guide.md#{anchor}"


def test_operator_guide_explains_every_alert(alert_rules: list[dict[str, Any]]) -> None:
    guide = (ROOT / "docs" / "operator-guide.md").read_text()
    for rule in alert_rules:
        assert f"### {rule['alert']}" in guide, rule["alert"]


def test_alert_thresholds_are_the_agreed_ones(alert_rules: list[dict[str, Any]]) -> None:
    by_name = {rule["alert"]: rule for rule in alert_rules}
    assert ") > 0.05" in by_name["PayflowTransferFailureRateHigh"]["expr"]
    assert ") > 0.10" in by_name["PayflowWebhookFailureRateHigh"]["expr"]
    assert ") > 0.05" in by_name["PayflowApiLatencyP95High"]["expr"]
    assert 'job="gateway"' in by_name["PayflowApiLatencyP95High"]["expr"]
    assert by_name["PayflowStreamBacklogHigh"]["expr"].endswith("> 1000")
    assert by_name["PayflowSagasPastDeadline"]["expr"] == "max(payflow_sagas_past_deadline) > 0"
    assert by_name["PayflowSagasPastDeadline"]["for"] == "5m"
    assert by_name["PayflowDeadLettersPresent"]["expr"].endswith(
        "(payflow_stream_dead_letter_messages) > 0"
    )


def test_alerts_use_only_exposed_metrics(alert_rules: list[dict[str, Any]]) -> None:
    allowed = EXPOSED_METRICS | PROMETHEUS_OWN_SERIES
    for rule in alert_rules:
        names = metric_names(rule["expr"])
        assert names, rule["alert"]
        assert names <= allowed, (rule["alert"], names - allowed)


def test_dashboards_use_only_exposed_metrics(dashboards: dict[str, dict[str, Any]]) -> None:
    for file_name, dashboard in dashboards.items():
        for expression in dashboard_expressions(dashboard):
            names = metric_names(expression)
            assert names, (file_name, expression)
            assert names <= EXPOSED_METRICS, (file_name, names - EXPOSED_METRICS)


def test_a_promql_typo_is_caught() -> None:
    with pytest.raises(ValueError, match="parenthesis"):
        metric_names("sum(rate(payflow_transfers_total[5m])")
    assert metric_names("sum(rate(payflow_transfer_total[5m]))") - EXPOSED_METRICS == {
        "payflow_transfer_total"
    }


def test_the_three_dashboards_are_provisioned_from_where_compose_mounts_them(
    compose: dict[str, Any], dashboards: dict[str, dict[str, Any]]
) -> None:
    assert tuple(dashboards) == tuple(sorted(DASHBOARD_FILES))
    uids = [dashboard["uid"] for dashboard in dashboards.values()]
    assert len(set(uids)) == len(uids)
    provider = load_yaml(DEPLOY / "grafana" / "provisioning" / "dashboards" / "payflow.yml")
    (provider_path,) = [p["options"]["path"] for p in provider["providers"]]
    mounts = compose["services"]["grafana"]["volumes"]
    assert f"./deploy/grafana/dashboards:{provider_path}:ro" in mounts
    assert "./deploy/grafana/provisioning:/etc/grafana/provisioning:ro" in mounts


def test_every_panel_is_described_and_queries_a_provisioned_data_source(
    dashboards: dict[str, dict[str, Any]],
) -> None:
    sources = load_yaml(DEPLOY / "grafana" / "provisioning" / "datasources" / "payflow.yml")
    by_uid = {source["uid"]: source for source in sources["datasources"]}
    assert by_uid["prometheus"]["url"] == "http://prometheus:9090"
    assert by_uid["jaeger"]["url"] == "http://jaeger:16686"
    for file_name, dashboard in dashboards.items():
        ids = [panel["id"] for panel in dashboard["panels"]]
        assert len(ids) == len(set(ids)), file_name
        for panel in panels(dashboard):
            assert len(panel.get("description", "")) > 30, (file_name, panel["title"])
            assert panel["datasource"]["uid"] in by_uid, (file_name, panel["title"])
            assert panel["targets"], (file_name, panel["title"])
            for target in panel["targets"]:
                assert target["datasource"]["uid"] in by_uid, (file_name, panel["title"])


def test_k8s_runs_each_process_as_a_deployment_behind_a_service(
    k8s_objects: list[dict[str, Any]],
) -> None:
    by_kind: dict[str, dict[str, dict[str, Any]]] = {}
    for obj in k8s_objects:
        by_kind.setdefault(obj["kind"], {})[obj["metadata"]["name"]] = obj
    assert set(by_kind["Namespace"]) == {"payflow"}
    config_maps = set(by_kind["ConfigMap"])
    example_secret = load_yaml(DEPLOY / "k8s" / "secret.example.yaml")
    for name, module in PROCESS_MODULES.items():
        port = DEFAULT_PORTS[name]
        pod = by_kind["Deployment"][name]["spec"]["template"]
        assert by_kind["Deployment"][name]["spec"]["selector"]["matchLabels"].items() <= (
            pod["metadata"]["labels"].items()
        )
        assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
        (container,) = pod["spec"]["containers"]
        assert container["command"] == ["python", "-m", module]
        metrics_port = METRICS_PORTS[name]
        assert pod["metadata"]["annotations"]["prometheus.io/port"] == str(metrics_port)
        if metrics_port == port:
            assert container["ports"] == [{"name": "http", "containerPort": port}]
        else:
            assert container["ports"] == [
                {"name": "http", "containerPort": port},
                {"name": "metrics", "containerPort": metrics_port},
            ]
            assert {"name": "PAYFLOW_METRICS_PORT", "value": str(metrics_port)} in container["env"]
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        for source in container["envFrom"]:
            assert source["configMapRef"]["name"] in config_maps
        for variable in container["env"]:
            secret_ref = variable.get("valueFrom", {}).get("secretKeyRef")
            if secret_ref:
                assert secret_ref["name"] == example_secret["metadata"]["name"]
                assert secret_ref["key"] in example_secret["stringData"]
        service = by_kind["Service"][name]["spec"]
        assert service["selector"].items() <= pod["metadata"]["labels"].items()
        assert service["ports"] == [{"name": "http", "port": port, "targetPort": "http"}]


def test_compose_redis_requires_the_password_every_process_gets(compose: dict[str, Any]) -> None:
    redis = compose["services"]["redis"]
    assert redis["environment"]["REDISCLI_AUTH"] == REDIS_PASSWORD_VARIABLE
    assert "redis-cli ping" in " ".join(redis["healthcheck"]["test"])
    for name in PROCESS_MODULES:
        env = compose["services"][name]["environment"]
        assert env["PAYFLOW_REDIS_PASSWORD"] == REDIS_PASSWORD_VARIABLE, name
        assert "@" not in env["PAYFLOW_REDIS_URL"], name


def test_compose_gives_the_bus_key_to_the_bus_processes_only(compose: dict[str, Any]) -> None:
    for name in PROCESS_MODULES:
        env = compose["services"][name]["environment"]
        if name in BUS_PROCESSES:
            assert env["PAYFLOW_BUS_SIGNING_KEYS"].startswith("${PAYFLOW_BUS_SIGNING_KEYS:-")
        else:
            assert "PAYFLOW_BUS_SIGNING_KEYS" not in env, name


def by_kind(objects: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, Any]]]:
    kinds: dict[str, dict[str, dict[str, Any]]] = {}
    for obj in objects:
        kinds.setdefault(obj["kind"], {})[obj["metadata"]["name"]] = obj
    return kinds


def container_env(deployment: dict[str, Any]) -> dict[str, dict[str, Any]]:
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return {variable["name"]: variable for variable in container["env"]}


def test_k8s_secrets_go_where_they_are_needed_and_nowhere_else(
    k8s_objects: list[dict[str, Any]],
) -> None:
    deployments = by_kind(k8s_objects)["Deployment"]
    config = by_kind(k8s_objects)["ConfigMap"]["payflow-config"]["data"]
    assert "@" not in config["PAYFLOW_REDIS_URL"]
    for name in PROCESS_MODULES:
        env = container_env(deployments[name])
        redis_password = env["PAYFLOW_REDIS_PASSWORD"]["valueFrom"]["secretKeyRef"]
        assert redis_password["key"] == "redis-password", name
        if name in BUS_PROCESSES:
            bus_keys = env["PAYFLOW_BUS_SIGNING_KEYS"]["valueFrom"]["secretKeyRef"]
            assert bus_keys["key"] == "bus-signing-keys", name
        else:
            assert "PAYFLOW_BUS_SIGNING_KEYS" not in env, name


def test_only_the_gateway_listens_on_every_address(k8s_objects: list[dict[str, Any]]) -> None:
    """The others bind the pod's own cluster address; on a developer machine every process binds
    loopback (the settings' default), and compose keeps the internal ports on 127.0.0.1."""
    from payflow_gateway.settings import GatewaySettings
    from payflow_ledger.settings import LedgerSettings
    from payflow_orchestrator.settings import OrchestratorSettings
    from payflow_wallet.settings import WalletSettings
    from payflow_webhooks.settings import WebhooksSettings, WebhooksWorkerSettings

    deployments = by_kind(k8s_objects)["Deployment"]
    config = by_kind(k8s_objects)["ConfigMap"]["payflow-config"]["data"]
    assert "PAYFLOW_HOST" not in config
    for name in PROCESS_MODULES:
        host = container_env(deployments[name])["PAYFLOW_HOST"]
        if name == "gateway":
            assert host == {"name": "PAYFLOW_HOST", "value": "0.0.0.0"}
        else:
            assert host["valueFrom"] == {"fieldRef": {"fieldPath": "status.podIP"}}, name
    for settings_class in (
        GatewaySettings,
        OrchestratorSettings,
        WalletSettings,
        LedgerSettings,
        WebhooksSettings,
        WebhooksWorkerSettings,
    ):
        assert settings_class.model_fields["host"].default == "127.0.0.1", settings_class


# NetworkPolicy, evaluated the way Kubernetes does (the subset of it these manifests use): a pod
# that some ingress policy selects admits only what a rule of one of those policies admits.
Pod = tuple[str, dict[str, str]]  # (namespace, labels)
OUTSIDE: Pod = ("<outside the cluster>", {})


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    assert set(selector) <= {"matchLabels", "matchExpressions"}, selector
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for expression in selector.get("matchExpressions", []):
        assert expression["operator"] == "In", expression
        if labels.get(expression["key"]) not in expression["values"]:
            return False
    return True


def peer_matches(peer: dict[str, Any], policy_namespace: str, source: Pod) -> bool:
    assert "ipBlock" not in peer, peer
    if source is OUTSIDE:
        return False
    namespace, labels = source
    if "namespaceSelector" in peer:
        if not selects(peer["namespaceSelector"], {"kubernetes.io/metadata.name": namespace}):
            return False
    elif namespace != policy_namespace:
        return False
    return "podSelector" not in peer or selects(peer["podSelector"], labels)


def admits(policies: list[dict[str, Any]], source: Pod, target: Pod, port: dict[str, Any]) -> bool:
    namespace, labels = target
    selecting = [
        p
        for p in policies
        if p["metadata"].get("namespace", "payflow") == namespace
        and "Ingress" in p["spec"]["policyTypes"]
        and selects(p["spec"]["podSelector"], labels)
    ]
    if not selecting:
        return True
    for policy in selecting:
        policy_namespace = policy["metadata"].get("namespace", "payflow")
        for rule in policy["spec"].get("ingress", []):
            ports = rule.get("ports")
            if ports is not None and not any(
                p["port"] in (port["name"], port["containerPort"]) for p in ports
            ):
                continue
            peers = rule.get("from")
            if peers is None or any(peer_matches(x, policy_namespace, source) for x in peers):
                return True
    return False


@pytest.fixture(scope="module")
def payflow_pods(k8s_objects: list[dict[str, Any]]) -> dict[str, tuple[Pod, dict[str, Any]]]:
    pods = {}
    for name, deployment in by_kind(k8s_objects)["Deployment"].items():
        template = deployment["spec"]["template"]
        (container,) = template["spec"]["containers"]
        ports = {port["name"]: port for port in container["ports"]}
        pods[name] = (("payflow", template["metadata"]["labels"]), ports)
    return pods


def test_k8s_network_policy_lets_anyone_reach_the_gateway_and_only_the_gateway_the_rest(
    k8s_objects: list[dict[str, Any]], payflow_pods: dict[str, tuple[Pod, dict[str, Any]]]
) -> None:
    policies = list(by_kind(k8s_objects)["NetworkPolicy"].values())
    deny = by_kind(k8s_objects)["NetworkPolicy"]["default-deny-ingress"]["spec"]
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress"]}
    other_namespace: Pod = ("somewhere-else", {"app": "anything"})
    prometheus: Pod = ("monitoring", {"app.kubernetes.io/name": "prometheus"})
    gateway_pod, gateway_ports = payflow_pods["gateway"]
    for stranger in (OUTSIDE, other_namespace):
        assert admits(policies, stranger, gateway_pod, gateway_ports["http"])
        assert not admits(policies, stranger, gateway_pod, gateway_ports["metrics"])
    assert admits(policies, prometheus, gateway_pod, gateway_ports["metrics"])
    for name, (pod, ports) in payflow_pods.items():
        if name == "gateway":
            continue
        http = ports["http"]
        for stranger in (OUTSIDE, other_namespace):
            assert not admits(policies, stranger, pod, http), (name, stranger)
        assert admits(policies, gateway_pod, pod, http) == (name in INTERNAL_APIS), name
        for caller, (caller_pod, _) in payflow_pods.items():
            if caller != "gateway":
                # Only the gateway calls the internal APIs; nobody calls the worker.
                assert not admits(policies, caller_pod, pod, http), (caller, name)
        assert admits(policies, prometheus, pod, http), name


def test_k8s_network_policy_keeps_the_stores_to_payflow(
    payflow_pods: dict[str, tuple[Pod, dict[str, Any]]],
) -> None:
    kustomization = load_yaml(DEPLOY / "k8s" / "stores" / "kustomization.yaml")
    namespace = kustomization["namespace"]
    config = load_yaml(DEPLOY / "k8s" / "configmap.yaml")["data"]
    assert f".{namespace}.svc" in config["PAYFLOW_REDIS_URL"]
    assert f".{namespace}.svc" in config["PAYFLOW_MONGO_URL"]
    policies = [
        {**policy, "metadata": {**policy["metadata"], "namespace": namespace}}
        for resource in kustomization["resources"]
        for policy in load_yaml_documents(DEPLOY / "k8s" / "stores" / resource)
    ]
    redis: Pod = (namespace, {"app.kubernetes.io/name": "redis"})
    mongo: Pod = (namespace, {"app.kubernetes.io/name": "mongo"})
    redis_port = {"name": "redis", "containerPort": 6379}
    mongo_port = {"name": "mongodb", "containerPort": 27017}
    for name, (pod, _) in payflow_pods.items():
        assert admits(policies, pod, redis, redis_port), name
        assert admits(policies, pod, mongo, mongo_port), name
    strangers: list[Pod] = [
        OUTSIDE,
        ("payflow", {"app.kubernetes.io/name": "debug-shell"}),
        ("default", {"app.kubernetes.io/part-of": "payflow"}),
        (namespace, {"app.kubernetes.io/name": "something-else"}),
    ]
    for stranger in strangers:
        assert not admits(policies, stranger, redis, redis_port), stranger
        assert not admits(policies, stranger, mongo, mongo_port), stranger
    assert admits(policies, mongo, mongo, mongo_port)  # replica set members
    assert not admits(policies, redis, mongo, mongo_port)
