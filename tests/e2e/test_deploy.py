"""The deploy kit (`deploy/`), checked offline: `promtool` accepts the Prometheus scrape config and
every query of the Grafana dashboard, the dashboard only queries series Weft exports (the README's
Metrics table, which `test_metrics.py` holds equal to a live scrape), `systemd-analyze verify`
accepts the unit without warnings, and the Kubernetes base and
overlays, rendered, pass the Kubernetes schemas (`kubernetes-validate`, strict) and refer only to
ports, ConfigMaps and Secrets that exist.

Debian has no kustomize (its kubectl 1.20 embeds one too old for this kit), so `render` below
applies the few kustomize features the kit uses, including kustomize's rule that a kustomization
loads files only from its own directory. Where a `kubectl` with kustomize is installed, its rendering
must agree."""

from __future__ import annotations

import base64
import copy
import json
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from test_metrics import readme_series

REPO_ROOT = Path(__file__).resolve().parents[2]
DEPLOY = REPO_ROOT / "deploy"
KUBERNETES = DEPLOY / "kubernetes"
OVERLAYS = sorted(p.name for p in (KUBERNETES / "overlays").iterdir() if p.is_dir())
KUBERNETES_VERSION = "1.30"
# Strategic-merge keys of the lists the patches touch; other lists are replaced.
MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "volumes": "name",
    "env": "name",
    "volumeMounts": "mountPath",
    "ports": "containerPort",
}
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding"}


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        pytest.fail("promtool is missing: scripts/test-all installs Debian's prometheus package")
    return found


def test_promtool_accepts_the_scrape_config():
    done = subprocess.run(
        [promtool(), "check", "config", str(DEPLOY / "prometheus" / "prometheus.yml")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"


def dashboard_exprs() -> list[tuple[str, str]]:
    dashboard = json.loads((DEPLOY / "grafana" / "dashboards" / "weft.json").read_text())
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    exprs = [(p["title"], t["expr"]) for p in dashboard["panels"] for t in p["targets"]]
    assert exprs, "the dashboard has no queries"
    return exprs


def exported_names() -> set[str]:
    """Names a query may use: the README's series, and `_bucket`/`_sum`/`_count` of histograms."""
    section = (REPO_ROOT / "README.md").read_text().split("## Metrics", 1)[1].split("\n## ", 1)[0]
    histograms = set(re.findall(r"^\| `([a-z_]+)` \| histogram \|", section, flags=re.M))
    names = readme_series()
    names |= {f"{h}_{part}" for h in histograms for part in ("bucket", "sum", "count")}
    return names


def test_dashboard_queries_only_series_weft_exports():
    exported = exported_names()
    used = set()
    for title, expr in dashboard_exprs():
        names = set(re.findall(r"\b((?:weft|process)_[a-z0-9_]+)\b", expr))
        assert names, f"panel {title!r} queries no Weft series: {expr}"
        assert names <= exported, f"panel {title!r} queries series Weft does not export: {names - exported}"
        used |= names
    # Every documented series is on the dashboard (histograms through their buckets).
    for series in readme_series():
        assert series in used or f"{series}_bucket" in used, f"no panel shows {series}"


def test_promtool_parses_every_dashboard_query(tmp_path):
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [{"record": f"weft:dashboard_query_{i}", "expr": expr} for i, (_, expr) in enumerate(dashboard_exprs())],
            }
        ]
    }
    path = tmp_path / "dashboard-rules.yml"
    path.write_text(yaml.safe_dump(rules))
    done = subprocess.run([promtool(), "check", "rules", str(path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"


def test_compose_and_dockerfile_refer_to_files_that_exist():
    compose_dir = DEPLOY / "docker"
    compose = yaml.safe_load((compose_dir / "compose.yaml").read_text())
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith((".", "/")):
                assert (compose_dir / source).resolve().exists(), f"{name}: {source} does not exist"
        build = service.get("build")
        if build:
            context = (compose_dir / build["context"]).resolve()
            assert (context / build["dockerfile"]).is_file(), name
    env = compose["services"]["weft"].get("environment", {})
    scrape = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    targets = [t for job in scrape["scrape_configs"] for c in job["static_configs"] for t in c["targets"]]
    assert "weft:9100" in targets
    dockerfile = (compose_dir / "Dockerfile").read_text()
    # The metrics listener must be reachable from the Prometheus container.
    assert "WEFT_METRICS_LISTEN=0.0.0.0:9100" in dockerfile or env.get("WEFT_METRICS_LISTEN", "").startswith("0.0.0.0")
    for source in re.findall(r"^COPY (?!--from)(\S+) ", dockerfile, flags=re.M):
        if source != ".":
            assert (REPO_ROOT / source).exists(), f"Dockerfile copies missing {source}"


def test_systemd_unit_verifies_cleanly(weft_bin, tmp_path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("no systemd-analyze on this machine")
    unit = (DEPLOY / "systemd" / "weft.service").read_text()
    assert "ExecStart=/usr/local/bin/weft serve" in unit
    # The installed path does not exist here: point the unit at the binary under test.
    path = tmp_path / "weft.service"
    path.write_text(unit.replace("/usr/local/bin/weft", str(Path(weft_bin).resolve())))
    done = subprocess.run([analyze, "verify", str(path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and not done.stderr.strip(), f"{done.stdout}\n{done.stderr}"


# --- Kubernetes ---------------------------------------------------------------------------------


def load_inside(root: Path, relative: str) -> Path:
    """`root/relative`, refused (as kustomize refuses it) when it lies outside `root`."""
    path = (root / relative).resolve()
    assert path.is_relative_to(root.resolve()), f"{root}: {relative} is outside the kustomization directory"
    return path


def merge(base, patch):
    """Strategic merge of `patch` into `base` for the lists in MERGE_KEYS; other values replace."""
    if isinstance(base, dict) and isinstance(patch, dict):
        out = dict(base)
        for key, value in patch.items():
            if key in out and key in MERGE_KEYS and isinstance(value, list):
                out[key] = merge_list(out[key], value, MERGE_KEYS[key])
            elif key in out:
                out[key] = merge(out[key], value)
            else:
                out[key] = copy.deepcopy(value)
        return out
    return copy.deepcopy(patch)


def merge_list(base: list, patch: list, key: str) -> list:
    """Items of `base` merged with the patch's item of the same key; new items first, as kustomize."""
    out = [copy.deepcopy(item) for item in base]
    new = []
    for item in patch:
        match = next((i for i, b in enumerate(out) if b.get(key) == item.get(key)), None)
        if match is None:
            new.append(copy.deepcopy(item))
        else:
            out[match] = merge(out[match], item)
    return new + out


def generated(root: Path, kind: str, spec: dict) -> dict:
    data: dict[str, str] = {}
    for entry in spec.get("files", []):
        key, _, source = entry.partition("=") if "=" in entry else (Path(entry).name, "", entry)
        data[key] = load_inside(root, source).read_text()
    for source in spec.get("envs", []):
        for line in load_inside(root, source).read_text().splitlines():
            if line.strip() and not line.startswith("#"):
                key, _, value = line.partition("=")
                data[key] = value
    for literal in spec.get("literals", []):
        key, _, value = literal.partition("=")
        data[key] = value
    obj = {"apiVersion": "v1", "kind": kind, "metadata": {"name": spec["name"]}}
    if kind == "Secret":
        obj["type"] = spec.get("type", "Opaque")
        obj["data"] = {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}
    else:
        obj["data"] = data
    return obj


def render(root: Path) -> list[dict]:
    """The objects of the kustomization in `root` (kustomize's build, without name hashes)."""
    kustomization = yaml.safe_load((root / "kustomization.yaml").read_text())
    unknown = set(kustomization) - {
        "apiVersion", "kind", "resources", "namespace", "labels", "patches", "configMapGenerator", "secretGenerator"
    }
    assert not unknown, f"{root}: render() does not implement {unknown}"
    objects: list[dict] = []
    for resource in kustomization.get("resources", []):
        path = (root / resource).resolve()
        if path.is_dir():
            objects += render(path)
        else:
            objects += [d for d in yaml.safe_load_all(load_inside(root, resource).read_text()) if d]
    for spec in kustomization.get("configMapGenerator", []):
        objects.append(generated(root, "ConfigMap", spec))
    for spec in kustomization.get("secretGenerator", []):
        objects.append(generated(root, "Secret", spec))
    for patch_ref in kustomization.get("patches", []):
        patch = yaml.safe_load(load_inside(root, patch_ref["path"]).read_text())
        targets = [
            i
            for i, o in enumerate(objects)
            if o["kind"] == patch["kind"] and o["metadata"]["name"] == patch["metadata"]["name"]
        ]
        assert len(targets) == 1, f"{root}: patch {patch_ref['path']} matches {len(targets)} objects"
        objects[targets[0]] = merge(objects[targets[0]], patch)
    for labels in kustomization.get("labels", []):
        for obj in objects:
            obj["metadata"].setdefault("labels", {}).update(labels["pairs"])
            if not labels.get("includeSelectors"):
                continue
            spec = obj.get("spec", {})
            if obj["kind"] == "Service":
                spec.setdefault("selector", {}).update(labels["pairs"])
            elif "template" in spec:
                spec.setdefault("selector", {}).setdefault("matchLabels", {}).update(labels["pairs"])
                spec["template"].setdefault("metadata", {}).setdefault("labels", {}).update(labels["pairs"])
    if "namespace" in kustomization:
        for obj in objects:
            if obj["kind"] not in CLUSTER_SCOPED:
                obj["metadata"]["namespace"] = kustomization["namespace"]
    return objects


def kustomizations() -> list[Path]:
    return [KUBERNETES / "base"] + [KUBERNETES / "overlays" / name for name in OVERLAYS]


@pytest.mark.parametrize("root", kustomizations(), ids=lambda p: p.name)
def test_rendered_manifests_pass_the_kubernetes_schemas(root):
    objects = render(root)
    assert any(o["kind"] == "Deployment" for o in objects)
    for obj in objects:
        try:
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as e:
            pytest.fail(f"{root.name}: {obj['kind']}/{obj['metadata']['name']}: {e.message} at {list(e.path)}")


@pytest.mark.parametrize("root", kustomizations(), ids=lambda p: p.name)
def test_rendered_manifests_refer_to_what_exists(root):
    objects = render(root)
    by_kind = {}
    for obj in objects:
        by_kind.setdefault(obj["kind"], {})[obj["metadata"]["name"]] = obj
    (deployment,) = by_kind["Deployment"].values()
    pod = deployment["spec"]["template"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
    (container,) = pod["spec"]["containers"]
    ports = {p["name"]: p for p in container["ports"]}
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        if probe in container:
            port = container[probe]["httpGet"]["port"]
            assert port in ports, f"{probe} uses port {port!r}, not a container port"
    host_network = pod["spec"].get("hostNetwork", False)
    for port in ports.values():
        if "hostPort" in port or host_network:
            assert port.get("hostPort", port["containerPort"]) == port["containerPort"]
    for service in by_kind.get("Service", {}).values():
        assert service["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in ports, f"service {service['metadata']['name']}: {port['targetPort']}"
    config_maps = by_kind.get("ConfigMap", {})
    secrets = by_kind.get("Secret", {})
    generated_secrets = set(secrets)
    for volume in pod["spec"]["volumes"]:
        if "configMap" in volume:
            assert volume["configMap"]["name"] in config_maps, volume
        if "secret" in volume and volume["secret"]["secretName"] not in generated_secrets:
            # Created by the operator (a TLS certificate); documented in deploy/README.md.
            assert volume["secret"]["secretName"] in (DEPLOY / "README.md").read_text(), volume
    for source in container.get("envFrom", []):
        assert source["secretRef"]["name"] in secrets, source
    mounted = {m["name"] for m in container["volumeMounts"]}
    assert mounted == {v["name"] for v in pod["spec"]["volumes"]}
    # The config file the container is told to read is in the mounted ConfigMap.
    config_path = Path(container["args"][container["args"].index("--config") + 1])
    mount = next(m for m in container["volumeMounts"] if Path(m["mountPath"]) == config_path.parent)
    volume = next(v for v in pod["spec"]["volumes"] if v["name"] == mount["name"])
    settings = tomllib.loads(config_maps[volume["configMap"]["name"]]["data"][config_path.name])
    # One UDP port per shard, each of them a container port.
    media = settings["media"]
    udp = {p["containerPort"] for p in ports.values() if p["protocol"] == "UDP"}
    assert 0 < media["shards"] == media["udp_port_max"] - media["udp_port_min"] + 1 == len(udp)
    assert udp == set(range(media["udp_port_min"], media["udp_port_max"] + 1))
    for listener, port_name in (("http_listen", "http"), ("tls_listen", "https"), ("metrics_listen", "metrics")):
        assert settings[listener] == f"0.0.0.0:{ports[port_name]['containerPort']}", listener


def test_kubernetes_config_uses_only_documented_settings():
    documented = tomllib.loads((REPO_ROOT / "config" / "weft.toml").read_text())
    ours = tomllib.loads((KUBERNETES / "base" / "weft.toml").read_text())
    for key, value in ours.items():
        assert key in documented, f"{key} is not a setting of config/weft.toml"
        if isinstance(value, dict):
            assert set(value) <= set(documented[key]), f"[{key}] has unknown settings {set(value) - set(documented[key])}"


def without_hashes(objects: list[dict]) -> list[dict]:
    """kustomize's objects with the content hashes taken off generated names and references, and
    Secret values without the line breaks kustomize puts in long base64."""
    for obj in objects:
        if obj["kind"] == "Secret":
            obj["data"] = {k: "".join(v.split()) for k, v in obj.get("data", {}).items()}
    generated_names = {o["metadata"]["name"] for o in objects if o["kind"] in ("ConfigMap", "Secret")}
    text = json.dumps(objects)
    for name in generated_names:
        base = re.sub(r"-[a-z0-9]{10}$", "", name)
        text = text.replace(f'"{name}"', f'"{base}"')
    return json.loads(text)


@pytest.mark.parametrize("root", kustomizations(), ids=lambda p: p.name)
def test_kustomize_renders_the_same_where_installed(root):
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("no kubectl on this machine (Debian's is too old for the kit); render() is checked above")
    done = subprocess.run([kubectl, "kustomize", str(root)], capture_output=True, text=True, timeout=60)
    if done.returncode != 0 and "unknown command" in done.stderr:
        pytest.skip("this kubectl has no kustomize")
    assert done.returncode == 0, done.stderr
    key = lambda o: (o["kind"], o["metadata"]["name"])  # noqa: E731
    theirs = sorted(without_hashes([d for d in yaml.safe_load_all(done.stdout) if d]), key=key)
    ours = sorted(render(root), key=key)
    assert ours == theirs
