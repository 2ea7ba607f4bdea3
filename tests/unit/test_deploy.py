"""The deployment files in deploy/ against the Kubernetes schemas and Hurricane's own options.

The options are resolved from each file's environment with the real
``resolve()``, so changing a default in supervisor/options.py (or an env value
in a manifest) fails here until the probes and time budgets follow.
"""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import kubernetes_validate
import pytest
import yaml

from supervisor.options import Options, resolve
from tests.dockerfile import healthcheck_argv, image_env, instruction

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
MiB = 1024 * 1024
SUPERVISOR_AND_PROBE = 64 * MiB  # resident size measured at about 50 MiB together
KUBERNETES_VERSIONS = ["1.27", kubernetes_validate.utils.latest_version()]


# -- Kubernetes -------------------------------------------------------------------


def manifests() -> list[dict]:
    docs = []
    for path in sorted((DEPLOY / "kubernetes").glob("*.yaml")):
        docs += [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    return docs


def one(kind: str) -> dict:
    [doc] = [d for d in manifests() if d["kind"] == kind]
    return doc


def pod_spec() -> dict:
    return one("Deployment")["spec"]["template"]["spec"]


def app_container() -> dict:
    [container] = [c for c in pod_spec()["containers"] if c["command"][-2:] == ["manage.py", "serve"]]
    return container


def container_options() -> Options:
    """What serve resolves inside the pod: the manifest's env, under Kubernetes."""
    env = {e["name"]: e["value"] for e in app_container().get("env", [])}
    return resolve({}, {}, {"KUBERNETES_SERVICE_HOST": "10.0.0.1", **env})


def port_number(port: int | str) -> int:
    if isinstance(port, int):
        return port
    [number] = [p["containerPort"] for p in app_container()["ports"] if p["name"] == port]
    return number


def quantity(text: str) -> int:
    match = re.fullmatch(r"(\d+)(Ki|Mi|Gi)?", text)
    assert match, f"unexpected quantity {text}"
    return int(match.group(1)) * {None: 1, "Ki": 1024, "Mi": MiB, "Gi": 1024 * MiB}[match.group(2)]


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_manifest_is_valid_against_the_kubernetes_schema(version):
    docs = manifests()
    assert {d["kind"] for d in docs} == {
        "Deployment",
        "Service",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
    }
    for doc in docs:
        # strict: an unknown (say, misspelt) field is an error, not silently ignored
        kubernetes_validate.validate(doc, version, strict=True)


def test_the_schema_check_catches_a_misspelt_field():
    deployment = one("Deployment")
    deployment["spec"]["template"]["spec"]["containers"][0]["readinessprobe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSIONS[-1], strict=True)


def test_probes_use_the_probe_port_and_the_option_paths():
    opts = container_options()
    container = app_container()
    assert port_number("http") == opts.port
    for kind, path in [
        ("startupProbe", opts.startup_probe),
        ("readinessProbe", opts.readiness_probe),
        ("livenessProbe", opts.liveness_probe),
    ]:
        probe = container[kind]["httpGet"]
        assert probe["path"] == path, kind
        assert port_number(probe["port"]) == opts.effective_probe_port, kind


def test_probe_timing_follows_the_options():
    opts = container_options()
    container = app_container()
    startup, ready, alive = (container[k] for k in ("startupProbe", "readinessProbe", "livenessProbe"))
    for probe in (startup, ready, alive):
        # Probes answer from a snapshot in well under a millisecond.
        assert 1 <= probe["timeoutSeconds"] < probe["periodSeconds"]
    # Hurricane replaces a worker stuck booting itself, then the checks run again.
    assert (
        startup["periodSeconds"] * startup["failureThreshold"] >= opts.startup_timeout + opts.check_interval
    )
    # A failing readiness check takes the pod out within one check interval.
    assert ready["periodSeconds"] * ready["failureThreshold"] <= opts.check_interval
    # The kubelet restarts only what Hurricane could not fix: it notices a hang first.
    assert alive["periodSeconds"] * alive["failureThreshold"] > opts.heartbeat_timeout


def test_kubelet_waits_longer_than_shutdown_delay_and_graceful_timeout():
    opts = container_options()
    assert opts.shutdown_delay and opts.shutdown_delay > 0  # the default under Kubernetes
    assert pod_spec()["terminationGracePeriodSeconds"] > opts.shutdown_delay + opts.graceful_timeout
    assert "lifecycle" not in app_container()  # no preStop sleep: the shutdown delay does that


def test_memory_limit_holds_every_worker_at_max_memory_plus_a_replacement():
    opts = container_options()
    assert opts.max_memory is not None, "set HURRICANE_MAX_MEMORY in the Deployment"
    resources = app_container()["resources"]
    limit = quantity(resources["limits"]["memory"])
    assert quantity(resources["requests"]["memory"]) == limit
    # A recycled worker's successor starts before the old one stops.
    assert limit >= (opts.workers + 1) * opts.max_memory * MiB + SUPERVISOR_AND_PROBE
    assert "cpu" in resources["requests"]  # the HPA's utilization is relative to it


def test_rolling_update_keeps_capacity_and_the_hpa_owns_the_replica_count():
    spec = one("Deployment")["spec"]
    assert spec["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    assert "replicas" not in spec


def test_each_pod_migrates_its_own_sqlite_file_before_serving():
    container = app_container()
    env = {e["name"]: e["value"] for e in container["env"]}
    [mount] = [m for m in container["volumeMounts"] if env["EXAMPLE_DB"].startswith(m["mountPath"] + "/")]
    [volume] = [v for v in pod_spec()["volumes"] if v["name"] == mount["name"]]
    assert "emptyDir" in volume  # per pod: applying at start cannot race another pod
    assert container_options().check_migrations_apply


def test_service_exposes_only_the_app_port():
    service = one("Service")
    [port] = service["spec"]["ports"]
    assert port_number(port["targetPort"]) == container_options().port
    assert service["spec"]["selector"] == one("Deployment")["spec"]["template"]["metadata"]["labels"]


def test_hpa_and_pdb_target_the_deployment_and_leave_a_pod_serving():
    deployment = one("Deployment")
    hpa, pdb = one("HorizontalPodAutoscaler"), one("PodDisruptionBudget")
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", deployment["metadata"]["name"])
    assert pdb["spec"]["selector"] == deployment["spec"]["selector"]
    assert pdb["spec"]["maxUnavailable"] < hpa["spec"]["minReplicas"]


# -- systemd ----------------------------------------------------------------------


def unit(name: str) -> dict[str, dict[str, list[str]]]:
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] = {}
    for raw in (DEPLOY / "systemd" / name).read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), {})
        else:
            key, _, value = line.partition("=")
            current.setdefault(key, []).append(value)
    return sections


def seconds(text: str) -> float:
    match = re.fullmatch(r"(\d+)(s|min)?", text)
    assert match, f"unexpected time span {text}"
    return int(match.group(1)) * (60 if match.group(2) == "min" else 1)


def service_options(service: dict[str, list[str]]) -> Options:
    env = dict(line.split("=", 1) for line in service.get("Environment", []))
    return resolve({}, {}, env)


def test_systemd_unit_is_type_notify_and_stops_through_the_supervisor():
    service = unit("hurricane.service")["Service"]
    assert service["Type"] == ["notify"]
    assert service["NotifyAccess"] == ["main"]
    # control-group (the default) would SIGTERM the workers too, skipping the drain
    assert service["KillMode"] == ["mixed"]
    assert service["ExecStart"][0].split()[-2:] == ["manage.py", "serve"]
    assert service["ExecReload"] == ["/bin/kill -HUP $MAINPID"]


def test_systemd_time_budgets_follow_the_options():
    service = unit("hurricane.service")["Service"]
    opts = service_options(service)
    assert seconds(service["TimeoutStopSec"][0]) > (opts.shutdown_delay or 0) + opts.graceful_timeout
    assert seconds(service["TimeoutStartSec"][0]) >= opts.startup_timeout + opts.check_interval
    # fed every WatchdogSec/2 from the loop; a stall shorter than a hang must not trip it
    assert seconds(service["WatchdogSec"][0]) > opts.heartbeat_timeout


def test_systemd_socket_passes_app_then_probe_port():
    sock = unit("hurricane.socket")["Socket"]
    opts = service_options(unit("hurricane.service")["Service"])
    assert [int(port) for port in sock["ListenStream"]] == [opts.port, opts.effective_probe_port]
    assert sock["Service"] == ["hurricane.service"]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs systemd-analyze")
def test_systemd_analyze_accepts_the_units(tmp_path):
    for path in (DEPLOY / "systemd").iterdir():
        # verify insists that the commands exist: point them at this interpreter
        text = path.read_text().replace("/srv/hurricane/venv/bin/python", sys.executable)
        (tmp_path / path.name).write_text(text)
    result = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *sorted(map(str, tmp_path.iterdir()))],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


# -- the container image ------------------------------------------------------------


def test_image_is_slim_non_root_with_serve_as_pid_1():
    [base] = instruction("FROM")
    assert re.fullmatch(r"python:3\.\d+-slim", base)
    [user] = instruction("USER")
    assert user.split(":")[0] not in ("root", "0") and user.split(":")[0].isdigit()
    [entrypoint] = instruction("ENTRYPOINT")
    assert json.loads(entrypoint)[-2:] == ["manage.py", "serve"]  # exec form: serve is PID 1
    assert instruction("STOPSIGNAL") == ["SIGTERM"]
    assert not instruction("CMD")  # arguments to serve come from `docker run` or HURRICANE_* env


def test_image_exposes_the_option_ports_and_migrates_sqlite_in_its_volume():
    opts = Options()
    [expose] = instruction("EXPOSE")
    assert sorted(int(p) for p in expose.split()) == sorted([opts.port, opts.effective_probe_port])
    env = image_env()
    assert resolve({}, {}, env).check_migrations_apply
    [volume] = [json.loads(v) for v in instruction("VOLUME")]
    assert str(Path(env["EXAMPLE_DB"]).parent) in volume


def test_healthcheck_asks_the_liveness_probe_with_python_not_curl():
    opts = Options()
    argv = healthcheck_argv()
    assert argv[:2] == ["python", "-c"] and "curl" not in " ".join(argv)
    [url] = re.findall(r"http://[^'\"]+", argv[2])
    parts = urlsplit(url)
    assert (parts.hostname, parts.port, parts.path) == (
        "127.0.0.1",
        opts.effective_probe_port,
        opts.liveness_probe,
    )
    compile(argv[2], "HEALTHCHECK", "exec")
