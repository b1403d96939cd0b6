"""Validates OCSF events, one JSON object per line (what `trailq detect --format ocsf` writes),
against the OCSF schema shipped inside the PyPI package `ocsf-json-schema` (no network), with
`jsonschema`. The schema version and profiles are each event's own (`metadata.version`,
`metadata.profiles`); fields outside them, missing required ones, wrong types, unknown enum IDs
and `null`s are errors. Beyond the schema it checks what the schema cannot say: `type_uid` is
`class_uid * 100 + activity_id`, and each caption (`severity`, `status`…) names its `*_id`.

Usage: ocsf-validate.py FILE.jsonl   Exit status: 0 all valid, 1 an event is not, 2 unreadable."""
import functools
import json
import sys

from jsonschema import Draft202012Validator
from ocsf_json_schema import OcsfJsonSchemaEmbedded, get_ocsf_schema


@functools.lru_cache(maxsize=None)
def schema(version):
    return get_ocsf_schema(version=version)


@functools.lru_cache(maxsize=None)
def validator(version, class_uid, profiles):
    generated = OcsfJsonSchemaEmbedded(schema(version))
    name = generated.lookup_class_name_from_uid(class_uid)
    return Draft202012Validator(generated.get_class_schema(name, list(profiles)))


def captions(attributes, event, path, errors):
    """Each `x_id` with a sibling caption `x` must carry the caption of its value."""
    for name, value in event.items():
        spec = attributes.get(name) or {}
        sibling, enum = spec.get("sibling"), spec.get("enum")
        if sibling in event and enum and isinstance(value, int) and value != 99:
            caption = (enum.get(str(value)) or {}).get("caption")
            if caption is not None and event[sibling] != caption:
                errors.append(f"{path}.{sibling}: {event[sibling]!r} is not {caption!r}, the caption of {name}={value}")


def check(event):
    if not isinstance(event, dict):
        return ["not a JSON object"]
    meta = event.get("metadata") or {}
    version, class_uid = meta.get("version"), event.get("class_uid")
    if not isinstance(version, str) or not isinstance(class_uid, int):
        return ["metadata.version and class_uid are required"]
    try:
        v = validator(version, class_uid, tuple(sorted(meta.get("profiles") or [])))
    except Exception as e:  # an unknown version or class
        return [f"cannot validate OCSF {version} class {class_uid}: {e}"]
    errors = [
        "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in e.absolute_path) + ": " + e.message
        for e in v.iter_errors(event)
    ]
    activity, type_uid = event.get("activity_id"), event.get("type_uid")
    if isinstance(activity, int) and type_uid != class_uid * 100 + activity:
        errors.append(f"$.type_uid: {type_uid} is not class_uid * 100 + activity_id")
    cls = next(c for c in schema(version)["classes"].values() if c.get("uid") == class_uid)
    captions(cls["attributes"], event, "$", errors)
    return errors


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
    except OSError as e:
        print(f"ocsf-validate: {e}", file=sys.stderr)
        return 2
    valid = invalid = 0
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            errors = check(json.loads(line))
        except json.JSONDecodeError as e:
            errors = [f"not JSON: {e}"]
        for error in errors:
            print(f"{sys.argv[1]}:{number}: {error}", file=sys.stderr)
        invalid += bool(errors)
        valid += not errors
    print(f"ocsf-validate: {valid} valid, {invalid} invalid", file=sys.stderr)
    return 1 if invalid or not valid else 0


sys.exit(main())
