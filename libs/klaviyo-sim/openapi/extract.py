#!/usr/bin/env python3
"""Trims Klaviyo's OpenAPI document and rate-limit table to what the simulator serves.

Run once from the workspace root when the reference revision changes:

    python3 libs/klaviyo-sim/openapi/extract.py \
        ../shared/reference/klaviyo-openapi-2026-07-15.json \
        ../shared/reference/klaviyo-ratelimits-2026-07-15.tsv \
        libs/klaviyo-sim/openapi

It writes `requests.json` (each served operation's method, path and request-body
schema name, plus the transitive closure of `#/components/schemas` those schemas
reference, with `description` and `example` removed) and `ratelimits.tsv` (the rows
of the served operations).
"""
import json
import sys

OPERATIONS = [
    "create_or_update_profile", "create_profile", "get_profiles", "get_profile", "update_profile",
    "bulk_import_profiles", "get_bulk_import_profiles_jobs", "get_bulk_import_profiles_job",
    "get_errors_for_bulk_import_profiles_job", "get_profiles_for_bulk_import_profiles_job",
    "get_profile_ids_for_bulk_import_profiles_job", "get_list_for_bulk_import_profiles_job",
    "get_list_ids_for_bulk_import_profiles_job",
    "create_event", "bulk_create_events", "get_metrics", "get_metric",
    "get_lists", "create_list", "get_list", "add_profiles_to_list", "remove_profiles_from_list",
    "get_profiles_for_list", "get_profile_ids_for_list",
    "get_segments", "create_segment", "get_segment", "update_segment",
    "get_profiles_for_segment", "get_profile_ids_for_segment",
]
DROP = {"description", "example", "examples"}


def strip(node):
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key in DROP:
                continue
            if key == "properties" and isinstance(value, dict):
                out[key] = {name: strip(sub) for name, sub in value.items()}
            else:
                out[key] = strip(value)
        return out
    if isinstance(node, list):
        return [strip(item) for item in node]
    return node


def main(openapi_path, tsv_path, out_dir):
    doc = json.load(open(openapi_path))
    schemas = doc["components"]["schemas"]
    operations = {}
    roots = []
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if not isinstance(op, dict) or op.get("operationId") not in OPERATIONS:
                continue
            entry = {"method": method.upper(), "path": path}
            body = op.get("requestBody")
            if body:
                ref = body["content"]["application/vnd.api+json"]["schema"]["$ref"]
                entry["request"] = ref.split("/")[-1]
                roots.append(entry["request"])
            operations[op["operationId"]] = entry
    missing = set(OPERATIONS) - set(operations)
    if missing:
        sys.exit(f"operations not in the document: {sorted(missing)}")

    seen = {}

    def walk(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "$ref":
                    name = value.split("/")[-1]
                    if name not in seen:
                        seen[name] = None
                        walk(schemas[name])
                elif key == "properties" and isinstance(value, dict):
                    for sub in value.values():
                        walk(sub)
                elif key not in DROP:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    for root in roots:
        if root not in seen:
            seen[root] = None
            walk(schemas[root])
    out = {
        "revision": doc["info"]["version"],
        "operations": dict(sorted(operations.items())),
        "schemas": {name: strip(schemas[name]) for name in sorted(seen)},
    }
    with open(f"{out_dir}/requests.json", "w") as f:
        json.dump(out, f, separators=(",", ":"), sort_keys=True)
        f.write("\n")
    with open(tsv_path) as f, open(f"{out_dir}/ratelimits.tsv", "w") as w:
        header = f.readline()
        w.write(header)
        for line in f:
            if line.split("\t")[2] in OPERATIONS:
                w.write(line)


if __name__ == "__main__":
    main(*sys.argv[1:4])
