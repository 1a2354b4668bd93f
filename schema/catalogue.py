"""The field catalogue: every field on the wire, with its type, unit and meaning.

``fields.csv`` is written by hand (meanings need a person); :func:`model_fields` derives the
same list from the models so a test can hold the two together. A sampler that emits a field
nobody declared, or a declaration with the wrong type or unit, fails that test.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from importlib import resources
from typing import Any

from pydantic import BaseModel

from .envelope import SAMPLE_MODELS, Batch

ENVELOPE_KIND = "batch"

# Unit implied by a field-name suffix; the catalogue must agree with it.
SUFFIX_UNITS: dict[str, str] = {
    "_ms": "ms",
    "_s": "s",
    "_dbm": "dBm",
    "_mbps": "Mbit/s",
    "_percent": "%",
    "_wh": "Wh",
    "_mb": "MiB",
    "_gb": "GiB",
    "_c": "degC",
    "_mhz": "MHz",
    "_ghz": "GHz",
}


@dataclass(frozen=True)
class FieldInfo:
    kind: str
    field: str
    type: str
    unit: str = ""
    meaning: str = ""


def load_catalogue() -> list[FieldInfo]:
    """Read ``fields.csv`` shipped inside the package."""
    text = resources.files(__package__).joinpath("fields.csv").read_text(encoding="utf-8")
    rows = csv.DictReader(text.splitlines())
    return [FieldInfo(r["kind"], r["field"], r["type"], r["unit"], r["meaning"]) for r in rows]


def expected_unit(field: str) -> str:
    """The unit a field name promises by its suffix, or "" if it promises none."""
    leaf = field.rsplit(".", 1)[-1].rsplit("]", 1)[-1]
    for suffix, unit in sorted(SUFFIX_UNITS.items(), key=lambda kv: -len(kv[0])):
        if leaf.endswith(suffix):
            return unit
    return ""


def _type_name(prop: dict[str, Any], defs: dict[str, Any]) -> tuple[str, dict[str, Any] | None]:
    """Map a JSON Schema property to a catalogue type; return the object schema to recurse."""
    if "$ref" in prop:
        target = defs[prop["$ref"].rsplit("/", 1)[-1]]
        return "object", target
    options = [p for p in prop.get("anyOf", [prop]) if p.get("type") != "null"]
    if len(options) == 1 and options[0] is not prop:
        return _type_name(options[0], defs)
    kind = prop.get("type")
    if kind == "string":
        fmt = {"date-time": "datetime", "uuid": "uuid"}.get(prop.get("format", ""), "string")
        return fmt, None
    if kind == "array":
        inner, nested = _type_name(prop["items"], defs)
        return ("array" if nested else f"array[{inner}]"), nested
    if kind == "object" and ("additionalProperties" in prop or "patternProperties" in prop):
        return "map[string]", None
    if kind in ("integer", "number", "boolean"):
        return str(kind), None
    if "const" in prop or "enum" in prop:
        return "string", None
    raise ValueError(f"no catalogue type for JSON Schema {prop!r}")


def _walk(schema: dict[str, Any], defs: dict[str, Any], kind: str, prefix: str) -> list[FieldInfo]:
    out: list[FieldInfo] = []
    for name, prop in schema.get("properties", {}).items():
        if not prefix and name == "kind":
            continue
        path = prefix + name
        if kind == ENVELOPE_KIND and name == "samples":  # each sample kind is listed on its own
            out.append(FieldInfo(kind, path, "array"))
            continue
        type_name, nested = _type_name(prop, defs)
        out.append(FieldInfo(kind, path, type_name))
        if nested is not None:
            sep = "[]." if type_name == "array" else "."
            out.extend(_walk(nested, defs, kind, path + sep))
    return out


def _fields_of(model: type[BaseModel], kind: str) -> list[FieldInfo]:
    schema = model.model_json_schema()
    return _walk(schema, schema.get("$defs", {}), kind, "")


def model_fields() -> list[FieldInfo]:
    """Every field the models define, as (kind, field, type), without units or meanings."""
    out = _fields_of(Batch, ENVELOPE_KIND)
    for model in SAMPLE_MODELS:
        kind = model.model_fields["kind"].default
        out.extend(_fields_of(model, kind))
    return out
