"""The JSON Schema subset docs/openapi.yaml uses, checked (tests/e2e/14-openapi-examples.sh).

A few dozen lines instead of a dependency: the document's schemas use only the
keywords below. A keyword this checker does not know is reported as a problem,
not skipped, so a schema that grows past the subset fails the test until the
checker learns it, instead of passing unchecked.
"""
import re

# Annotations: they say nothing about validity.
ANNOTATIONS = {"description", "default", "title", "example", "examples", "deprecated", "readOnly", "writeOnly"}
CHECKED = {"$ref", "type", "properties", "required", "additionalProperties", "items", "enum", "const",
           "minimum", "maximum", "minLength", "maxLength", "pattern", "format"}
DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


def type_ok(value, name):
    return {
        "null": value is None,
        "boolean": isinstance(value, bool),
        "integer": isinstance(value, int) and not isinstance(value, bool),
        "number": isinstance(value, (int, float)) and not isinstance(value, bool),
        "string": isinstance(value, str),
        "array": isinstance(value, list),
        "object": isinstance(value, dict),
    }.get(name, False)


def resolve(doc, ref):
    if not ref.startswith("#/"):
        raise ValueError("only local $refs are supported, not %s" % ref)
    node = doc
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def problems(doc, schema, value, where="$", strict=False):
    """Every way value does not fit schema, as "where: what" strings (none: it fits).

    strict: an object schema that lists properties lists all of them, unless it says
    additionalProperties itself (for answers: a field the document does not name is drift).
    """
    out = []
    if "$ref" in schema:
        out += problems(doc, resolve(doc, schema["$ref"]), value, where, strict)
    for key in schema:
        if key not in CHECKED and key not in ANNOTATIONS:
            out.append("%s: schema keyword %r is not supported by tests/e2e/oas_schema.py" % (where, key))
    if "type" in schema:
        names = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(type_ok(value, n) for n in names):
            return out + ["%s: %r is not of type %s" % (where, value, "/".join(names))]
    if "enum" in schema and value not in schema["enum"]:
        out.append("%s: %r is not one of %r" % (where, value, schema["enum"]))
    if "const" in schema and value != schema["const"]:
        out.append("%s: %r is not %r" % (where, value, schema["const"]))
    if type_ok(value, "number"):
        if "minimum" in schema and value < schema["minimum"]:
            out.append("%s: %r is below %r" % (where, value, schema["minimum"]))
        if "maximum" in schema and value > schema["maximum"]:
            out.append("%s: %r is above %r" % (where, value, schema["maximum"]))
    if isinstance(value, str):
        if "minLength" in schema and len(value) < schema["minLength"]:
            out.append("%s: %r is shorter than %d" % (where, value, schema["minLength"]))
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            out.append("%s: %r is longer than %d" % (where, value, schema["maxLength"]))
        if "pattern" in schema and not re.search(schema["pattern"], value):
            out.append("%s: %r does not match %s" % (where, value, schema["pattern"]))
        if schema.get("format") == "date-time" and not DATE_TIME.match(value):
            out.append("%s: %r is not an RFC 3339 date-time" % (where, value))
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            out += problems(doc, schema["items"], item, "%s[%d]" % (where, i), strict)
    if isinstance(value, dict):
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties", not (strict and "properties" in schema))
        for name in schema.get("required", []):
            if name not in value:
                out.append("%s: %r is missing" % (where, name))
        for name, item in value.items():
            if name in props:
                out += problems(doc, props[name], item, "%s.%s" % (where, name), strict)
            elif extra is False:
                out.append("%s: %r is not a documented property" % (where, name))
            elif isinstance(extra, dict):
                out += problems(doc, extra, item, "%s.%s" % (where, name), strict)
    return out
