#!/usr/bin/env python3
"""Validates manifests rendered from the ledgerlink chart.

Run with the Python that has kubernetes-validate installed (.ci/k8s-check sets it up):

    validate-rendered.py [-k 1.29.0 -k 1.37.0] FILE...

1. Every object against the Kubernetes OpenAPI schemas of each version given, strictly
   (unknown fields are errors). Custom resources kubernetes-validate has no schema for
   are skipped by name (KNOWN_CRDS) after a structural check of their own; any other
   kind without a schema is an error, so a misspelt apiVersion cannot slip through.
2. The chart's own promises: no Secret objects, hardened pods, probes, resources, a
   default-deny NetworkPolicy, a Service and PodDisruptionBudget per Deployment, HPAs
   that point at Deployments, a configuration file that is valid TOML and whose
   service URLs name the rendered Services.
"""

import argparse
import sys
from urllib.parse import urlparse

import yaml
from kubernetes_validate import utils as kv

try:
    import tomllib
except ImportError:  # Python < 3.11
    import tomli as tomllib

# Custom resources the chart may render: (apiVersion, kind) -> structural check.
def check_service_monitor(doc, errors):
    spec = doc.get("spec") or {}
    if not isinstance(spec.get("selector"), dict):
        errors.append("spec.selector must be a label selector")
    endpoints = spec.get("endpoints")
    if not isinstance(endpoints, list) or not endpoints:
        errors.append("spec.endpoints must be a non-empty list")
        return
    allowed = {"port", "path", "scheme", "interval", "scrapeTimeout", "honorLabels",
               "relabelings", "metricRelabelings", "tlsConfig", "bearerTokenSecret"}
    for endpoint in endpoints:
        unknown = set(endpoint) - allowed
        if unknown:
            errors.append(f"spec.endpoints: unexpected fields {sorted(unknown)}")
        if not endpoint.get("port"):
            errors.append("spec.endpoints[].port must name a Service port")


KNOWN_CRDS = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"): check_service_monitor,
}

UID = 65532


def name_of(doc):
    return f"{doc.get('kind')}/{(doc.get('metadata') or {}).get('name')}"


def pod_spec(doc):
    kind = doc.get("kind")
    if kind in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
        return doc["spec"]["template"]["spec"]
    return None


def check_pod(doc, problems):
    where = name_of(doc)
    spec = pod_spec(doc)
    if spec.get("automountServiceAccountToken") is not False:
        problems.append(f"{where}: automountServiceAccountToken must be false")
    psc = spec.get("securityContext") or {}
    if psc.get("runAsNonRoot") is not True or psc.get("runAsUser") != UID:
        problems.append(f"{where}: pod must run as non-root user {UID}")
    if (psc.get("seccompProfile") or {}).get("type") != "RuntimeDefault":
        problems.append(f"{where}: pod seccompProfile must be RuntimeDefault")
    mounts_tmp = False
    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    for container in spec.get("containers", []) + spec.get("initContainers", []):
        cwhere = f"{where} container {container['name']}"
        sc = container.get("securityContext") or {}
        if sc.get("readOnlyRootFilesystem") is not True:
            problems.append(f"{cwhere}: readOnlyRootFilesystem must be true")
        if sc.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{cwhere}: allowPrivilegeEscalation must be false")
        if (sc.get("capabilities") or {}).get("drop") != ["ALL"]:
            problems.append(f"{cwhere}: capabilities must drop ALL")
        resources = container.get("resources") or {}
        for part in ("requests", "limits"):
            for resource in ("cpu", "memory"):
                if resource not in (resources.get(part) or {}):
                    problems.append(f"{cwhere}: resources.{part}.{resource} missing")
        for mount in container.get("volumeMounts", []):
            volume = volumes.get(mount["name"])
            if volume is None:
                problems.append(f"{cwhere}: mount {mount['name']} has no volume")
            elif mount["mountPath"] == "/tmp" and "emptyDir" in volume:
                mounts_tmp = True
        env = {e["name"]: e for e in container.get("env", [])}
        for name in env:
            secretish = any(word in name for word in ("TOKEN", "SECRET", "API_KEY", "PRIVATE_KEY", "DATABASE_URL"))
            if secretish and not name.endswith("_FILE") and "valueFrom" not in env[name]:
                problems.append(f"{cwhere}: {name} must come from a Secret, not a literal value")
    if not mounts_tmp:
        problems.append(f"{where}: /tmp must be an emptyDir")
    if doc["kind"] == "Deployment":
        if spec.get("terminationGracePeriodSeconds", 30) < 30:
            problems.append(f"{where}: terminationGracePeriodSeconds must be at least 30")
        for container in spec["containers"]:
            env = {e["name"]: e.get("value") for e in container.get("env", [])}
            tls = "LEDGERLINK_TLS_CERT_FILE" in env
            for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
                p = container.get(probe)
                if not p:
                    problems.append(f"{where}: {probe} missing")
                elif tls and "httpGet" not in p:
                    problems.append(f"{where}: with TLS the {probe} must use httpGet on the metrics port")
                elif not tls and "grpc" not in p:
                    problems.append(f"{where}: without TLS the {probe} must be a grpc probe")
            if "LEDGERLINK_METRICS_LISTEN" not in env:
                problems.append(f"{where}: LEDGERLINK_METRICS_LISTEN missing")


def check_release(docs, problems):
    by_kind = {}
    for doc in docs:
        by_kind.setdefault(doc["kind"], {})[doc["metadata"]["name"]] = doc
    if "Secret" in by_kind:
        problems.append("the chart must not render Secrets: " + ", ".join(by_kind["Secret"]))
    policies = by_kind.get("NetworkPolicy", {})
    if policies and not any(
        not p["spec"].get("ingress") and not p["spec"].get("egress")
        and set(p["spec"].get("policyTypes", [])) == {"Ingress", "Egress"}
        for p in policies.values()
    ):
        problems.append("NetworkPolicies are rendered but none is a default deny")
    services = by_kind.get("Service", {})
    pdbs = by_kind.get("PodDisruptionBudget", {})
    deployments = by_kind.get("Deployment", {})
    for name, deployment in deployments.items():
        labels = deployment["spec"]["selector"]["matchLabels"]
        if not any(s["spec"].get("selector") == labels for s in services.values()):
            problems.append(f"Deployment/{name}: no Service selects its pods")
        if not any(p["spec"]["selector"].get("matchLabels") == labels for p in pdbs.values()):
            problems.append(f"Deployment/{name}: no PodDisruptionBudget")
    for name, hpa in by_kind.get("HorizontalPodAutoscaler", {}).items():
        target = hpa["spec"]["scaleTargetRef"]["name"]
        if target not in deployments:
            problems.append(f"HorizontalPodAutoscaler/{name}: target {target} is not rendered")
        elif "replicas" in deployments[target]["spec"]:
            problems.append(f"Deployment/{target}: sets replicas although an HPA scales it")
    for name, cm in by_kind.get("ConfigMap", {}).items():
        data = cm.get("data") or {}
        if "config.toml" not in data:
            continue
        try:
            config = tomllib.loads(data["config.toml"])
        except tomllib.TOMLDecodeError as error:
            problems.append(f"ConfigMap/{name}: config.toml is not TOML: {error}")
            continue
        rules = [k for k in data if k.startswith("rules.")]
        if len(rules) != 1:
            problems.append(f"ConfigMap/{name}: expected one rules file, found {rules}")
        elif rules[0] == "rules.toml":
            try:
                tomllib.loads(data["rules.toml"])
            except tomllib.TOMLDecodeError as error:
                problems.append(f"ConfigMap/{name}: rules.toml is not TOML: {error}")
        elif not isinstance(yaml.safe_load(data[rules[0]]), dict):
            problems.append(f"ConfigMap/{name}: {rules[0]} is not a YAML mapping")
        rules_file = (config.get("scoring") or {}).get("rules_file", "")
        if rules and not rules_file.endswith("/" + rules[0]):
            problems.append(f"ConfigMap/{name}: [scoring] rules_file {rules_file!r} does not name {rules[0]}")
        coordinator = config.get("coordinator") or {}
        for key in ("extractor_url", "scoring_url", "reminder_url", "klaviyo_gateway_url"):
            url = urlparse(coordinator.get(key, ""))
            service = services.get(url.hostname or "")
            if service is None:
                problems.append(f"ConfigMap/{name}: [coordinator] {key} names no rendered Service")
            elif url.port not in [p["port"] for p in service["spec"]["ports"] if p["name"] == "grpc"]:
                problems.append(f"ConfigMap/{name}: [coordinator] {key} port is not the Service's grpc port")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-k", "--kubernetes-version", action="append", dest="versions")
    parser.add_argument("files", nargs="+")
    args = parser.parse_args()
    versions = args.versions or [kv.latest_version()]
    failed = False
    for path in args.files:
        with open(path) as f:
            docs = [d for d in yaml.safe_load_all(f) if d]
        problems = []
        skipped = 0
        for doc in docs:
            key = (doc.get("apiVersion"), doc.get("kind"))
            if key in KNOWN_CRDS:
                errors = []
                KNOWN_CRDS[key](doc, errors)
                problems.extend(f"{name_of(doc)}: {e}" for e in errors)
                skipped += 1
                continue
            for version in versions:
                try:
                    kv.validate(doc, version, strict=True)
                except kv.ValidationError as error:
                    location = ".".join(str(p) for p in error.path)
                    problems.append(f"{name_of(doc)} (Kubernetes {version}): {location}: {error.message}")
                except kv.SchemaNotFoundError as error:
                    problems.append(f"{name_of(doc)}: {error.message} (add it to KNOWN_CRDS if it is a CRD)")
            if pod_spec(doc) is not None:
                check_pod(doc, problems)
        check_release(docs, problems)
        for problem in problems:
            print(f"ERROR {path}: {problem}")
        failed |= bool(problems)
        print(
            f"{path}: {len(docs)} objects, {len(docs) - skipped} validated against Kubernetes "
            f"{', '.join(versions)} (strict), {skipped} custom resources checked structurally"
            f"{'' if not problems else f', {len(problems)} problems'}"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
