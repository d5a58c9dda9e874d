#!/usr/bin/env python3
"""Compiles the OCSF classes `pci-guard audit export --format ocsf` writes into a small
fixture the tests validate against (testdata/siem/ocsf-1.7.0.json).

Source: the OCSF 1.7.0 schema as packaged on PyPI in `pydantic-ocsf` 3.0.0
(ocsf/schemas/v1_7_0.json, the OCSF schema repository's events, objects and dictionary in one
file; Apache-2.0). Run by hand when the OCSF version changes:

    pip download --no-deps pydantic-ocsf==3.0.0 && unzip -o pydantic_ocsf-3.0.0-*.whl 'ocsf/schemas/*'
    python3 testdata/siem/ocsf_fixture.py ocsf/schemas/v1_7_0.json > testdata/siem/ocsf-1.7.0.json

What it resolves, as OCSF's own compiler does: `extends` chains (a child's attribute fields
override its parent's), attribute types and array-ness from the dictionary, enum values
(the dictionary's and the class's together), object types, transitively. What the package
lacks: the profiles' attribute files (`$include: profiles/*.json`). The attributes of the two
profiles pci-guard declares (security_control, host) are taken from the dictionary and
listed apart.
"""
import json
import sys

CLASSES = ["http_activity", "authorize_session", "application_lifecycle", "application_error"]
# categories.json is not in the package; these uids and names are OCSF's.
CATEGORIES = {
    "network": (4, "Network Activity"),
    "iam": (3, "Identity & Access Management"),
    "application": (6, "Application Activity"),
}
PROFILE_ATTRIBUTES = {
    "security_control": ["action", "action_id", "disposition", "disposition_id", "policy"],
    "host": ["actor", "device"],
}

src = json.load(open(sys.argv[1]))
assert src["version"] == "1.7.0", src["version"]
events, objects, dictionary = src["events"], src["objects"], src["dictionary"]
types = dictionary["types"]["attributes"]
words = dictionary["attributes"]


def merged(table, name):
    """A class or object with its `extends` chain applied."""
    item = table[name]
    base = merged(table, item["extends"]) if item.get("extends") in table else {"attributes": {}}
    attrs = {k: dict(v) for k, v in base["attributes"].items()}
    for k, v in item.get("attributes", {}).items():
        if k == "$include" or not isinstance(v, dict):
            continue
        attrs[k] = {**attrs.get(k, {}), **v}
    out = {**base, **{k: v for k, v in item.items() if k != "attributes"}, "attributes": attrs}
    return out


def scalar(t):
    """A dictionary type down to its JSON kind."""
    while t in types and types[t].get("type") and types[t]["type"] != t:
        t = types[t]["type"]
    return {"string_t": "string", "integer_t": "integer", "long_t": "integer",
            "float_t": "number", "boolean_t": "boolean", "json_t": "any"}.get(t, "string")


needed = set()


def attribute(name, local):
    word = {**words.get(name, {}), **local}
    t = word.get("type", "string_t")
    out = {"requirement": local.get("requirement", word.get("requirement", "optional"))}
    if word.get("is_array"):
        out["array"] = True
    if t == "object":
        # OCSF's free-form object (`unmapped`, `data`): any members.
        out["type"] = "object"
    elif t in objects:
        out["object"] = t
        needed.add(t)
    else:
        out["type"] = scalar(t)
    enum = {**words.get(name, {}).get("enum", {}), **local.get("enum", {})}
    if enum:
        ints = all(k.lstrip("-").isdigit() for k in enum)
        out["enum"] = sorted(int(k) for k in enum) if ints else sorted(enum)
    return out


fixture = {
    "ocsf_version": "1.7.0",
    "source": "PyPI pydantic-ocsf 3.0.0, ocsf/schemas/v1_7_0.json (Apache-2.0), compiled by testdata/siem/ocsf_fixture.py",
    "profile_attributes": {},
    "classes": {},
    "objects": {},
}
for p, names in PROFILE_ATTRIBUTES.items():
    fixture["profile_attributes"][p] = {n: attribute(n, {}) for n in names}
for c in CLASSES:
    m = merged(events, c)
    cat_uid, cat_name = CATEGORIES[m["category"]]
    uid = cat_uid * 1000 + m["uid"]
    fixture["classes"][str(uid)] = {
        "name": m["caption"],
        "category_uid": cat_uid,
        "category_name": cat_name,
        "attributes": {k: attribute(k, v) for k, v in sorted(m["attributes"].items())},
        "constraints": m.get("constraints", {}),
    }
done = set()
while needed - done:
    o = sorted(needed - done)[0]
    done.add(o)
    m = merged(objects, o)
    fixture["objects"][o] = {
        "attributes": {k: attribute(k, v) for k, v in sorted(m["attributes"].items())},
        "constraints": m.get("constraints", {}),
    }
json.dump(fixture, sys.stdout, indent=1, sort_keys=True)
print()
