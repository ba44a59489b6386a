"""README.md dataset cards in the HuggingFace layout, from a dataset's manifest and schemas.

Each card opens with YAML metadata the Hub and `datasets.load_dataset` read: `configs` (which
files form which split) and `dataset_info.features` (column types; tool-call `arguments` and the
`tools` column typed `json`, so they load as objects), then states the manifest's facts (source
table and version, filters, rows and sessions per split, labels, agents, the output hash).
The dataset folder's card has one config per kind (`load_dataset(folder, "kto")`); each kind's
folder has its own card with a `default` config (`load_dataset(folder + "/kto")`).

The YAML is written here rather than with PyYAML or `datasets`, which are not runtime
dependencies: the metadata is lists and mappings of names, written in block style with every
scalar JSON-quoted (JSON strings are YAML strings), so nothing needs escaping rules of its own.
"""

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa

from curation.writer import FILE_SPLITS, TOOLS_FIELD

__all__ = ["CARD_NAME", "card_text", "features_yaml", "write_dataset_cards"]

CARD_NAME = "README.md"
_JSON_FIELDS = {"arguments", TOOLS_FIELD.name}  # JSON text in Parquet, objects once loaded
_DTYPES = {
    pa.string(): "string",
    pa.large_string(): "large_string",
    pa.bool_(): "bool",
    pa.int8(): "int8",
    pa.int16(): "int16",
    pa.int32(): "int32",
    pa.int64(): "int64",
    pa.float32(): "float32",
    pa.float64(): "float64",
}


def features_yaml(schema: pa.Schema) -> list[dict[str, Any]]:
    """`dataset_info.features` of a kind's files, in the `datasets` YAML form."""
    return [_feature(field) for field in schema]


def _feature(field: pa.Field) -> dict[str, Any]:
    return {"name": field.name, **_type(field.name, field.type, _is_json(field))}


def _is_json(field: pa.Field) -> bool:
    """A string column of JSON text: by name, or marked so (message content with attachments)."""
    return field.name in _JSON_FIELDS or (field.metadata or {}).get(b"dtype") == b"json"


def _type(name: str, kind: pa.DataType, json_text: bool = False) -> dict[str, Any]:
    if json_text and pa.types.is_string(kind):
        return {"dtype": "json"}
    if pa.types.is_struct(kind):
        return {"struct": [_feature(f) for f in kind]}
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        item = kind.value_type
        if pa.types.is_struct(item):
            return {"list": [_feature(f) for f in item]}
        return {"list": _type(name, item, name in _JSON_FIELDS)["dtype"]}
    if pa.types.is_timestamp(kind):
        tz = f", tz={kind.tz}" if kind.tz else ""
        return {"dtype": f"timestamp[{kind.unit}{tz}]"}
    if kind in _DTYPES:
        return {"dtype": _DTYPES[kind]}
    raise TypeError(f"column {name!r}: no dataset card type for Arrow type {kind}")


def _configs(
    manifest: Mapping[str, Any], kinds: Sequence[str], nested: bool
) -> list[dict[str, Any]]:
    """One config per kind, listing its non-empty splits: `datasets` refuses a split with no
    rows (and an empty Parquet file), so an empty split is left out and a kind without rows has
    no config (the card's table still shows it)."""
    configs = []
    for kind in kinds:
        rows = manifest["datasets"][kind]["rows"]
        files = [
            {"split": split, "path": f"{kind}/{split}.parquet" if nested else f"{split}.parquet"}
            for row_split, split in FILE_SPLITS.items()
            if rows.get(row_split, 0) > 0
        ]
        if files:
            configs.append({"config_name": kind if nested else "default", "data_files": files})
    return configs


def card_text(
    manifest: Mapping[str, Any], schemas: Mapping[str, pa.Schema], kind: str | None = None
) -> str:
    """The card of the whole dataset (`kind` None) or of one kind's folder."""
    kinds = list(schemas) if kind is None else [kind]
    with_tools = {k: _with_tools(schemas[k]) for k in kinds}
    if kind is None:
        info: Any = [{"config_name": k, "features": features_yaml(with_tools[k])} for k in kinds]
    else:
        info = {"features": features_yaml(with_tools[kind])}
    metadata = {"configs": _configs(manifest, kinds, nested=kind is None), "dataset_info": info}
    lines = ["---", *_yaml(metadata, 0), "---", "", *_body(manifest, kinds, kind is None)]
    return "\n".join(lines) + "\n"


def _with_tools(schema: pa.Schema) -> pa.Schema:
    return schema if TOOLS_FIELD.name in schema.names else schema.append(TOOLS_FIELD)


def write_dataset_cards(
    directory: Path, manifest: Mapping[str, Any], schemas: Mapping[str, pa.Schema]
) -> list[Path]:
    """Write the dataset's card and one per kind folder; return their paths."""
    paths = [directory / CARD_NAME, *[directory / kind / CARD_NAME for kind in schemas]]
    texts = [card_text(manifest, schemas), *[card_text(manifest, schemas, k) for k in schemas]]
    for path, text in zip(paths, texts, strict=True):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return paths


def _body(manifest: Mapping[str, Any], kinds: Sequence[str], whole: bool) -> list[str]:
    source = manifest["source"]
    title = manifest["name"] if whole else f"{manifest['name']}: {kinds[0]}"
    lines = [
        f"# {title}",
        "",
        f"Curated by agent-feedback-pipeline ({manifest['kind']}) from the Delta table "
        f"`{source['table']}` at version {source['delta_version']} "
        f"(`{source['table_uri']}`, {source['rows_read']} rows read).",
    ]
    raw = source.get("raw_events")
    if raw:
        lines.append(f"Kafka lineage from `raw_events` at version {raw['delta_version']}.")
    lines += [
        "The `eval` split of the manifest is the `test` split here (a split without rows is "
        "not listed in `configs`: `datasets` cannot load an empty split). Tool-call "
        "`arguments` and `tools` load as JSON objects; the JSONL files keep arguments as JSON "
        "text (OpenAI fine-tuning format).",
        *_attachments_note(manifest),
        "",
        "## Splits",
        "",
        "| kind | split | rows | sessions |",
        "|---|---|---|---|",
    ]
    for kind in kinds:
        summary = manifest["datasets"][kind]
        for row_split, file_split in FILE_SPLITS.items():
            rows = summary["rows"].get(row_split, 0)
            sessions = summary["sessions"].get(row_split, 0)
            lines.append(f"| {kind} | {file_split} | {rows} | {sessions} |")
    lines += ["", "## Labels and agents", ""]
    for kind in kinds:
        summary = manifest["datasets"][kind]
        for field, counts in summary["labels"].items():
            shown = ", ".join(f"{value} {count}" for value, count in counts.items())
            lines.append(f"- {kind} `{field}`: {shown}")
        for agent in summary["agents"]:
            lines.append(
                f"- {kind} agent {agent['agent_id']} {agent['agent_version']}: {agent['rows']} rows"
            )
    lines += ["", "## Filters", "", "| step | rows in | rows out |", "|---|---|---|"]
    for step in manifest["filters"]:
        lines.append(
            f"| {_step_name(step)} | {step.get('rows_in', '')} | {step.get('rows_out', '')} |"
        )
    lines += [
        "",
        "## Provenance",
        "",
        f"- options: `{json.dumps(manifest['options'], sort_keys=True)}`",
        f"- output SHA-256 (data files): `{manifest['output_sha256']}`",
        f"- software: {', '.join(f'{k} {v}' for k, v in manifest['software'].items())}",
        "- every file, its rows and SHA-256: `manifest.json`",
    ]
    return lines


def _attachments_note(manifest: Mapping[str, Any]) -> list[str]:
    if not manifest.get("options", {}).get("attachments"):
        return []
    return [
        "Curated with attachments: a user message whose turn has attachments has a list of "
        "content parts (`text`, then `image_url`, `input_audio` or `file`, each with its "
        "`attachment` record: media type, size, sha256 and the lake URI of the file, which is "
        "referenced, not embedded); other messages keep string content. `content` is JSON "
        "text in Parquet, loaded as a string or a list of parts.",
    ]


def _step_name(step: Mapping[str, Any]) -> str:
    name, description = step.get("name", ""), step.get("description", "")
    return f"{name}: {description}" if description else str(name)


def _yaml(value: Any, indent: int) -> list[str]:
    """Block-style YAML of mappings and lists; scalars as JSON (valid YAML)."""
    pad = " " * indent
    lines: list[str] = []
    if isinstance(value, Mapping):
        for key, item in value.items():
            if isinstance(item, Mapping | list):
                lines.append(f"{pad}{key}:")
                lines += _yaml(item, indent + 2)
            else:
                lines.append(f"{pad}{key}: {json.dumps(item)}")
        return lines
    for item in value:
        if isinstance(item, Mapping | list):
            nested = _yaml(item, indent + 2)
            lines.append(f"{pad}- {nested[0].lstrip()}")
            lines += nested[1:]
        else:
            lines.append(f"{pad}- {json.dumps(item)}")
    return lines
