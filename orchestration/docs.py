"""The column tables of the marts in docs/warehouse.md, generated from the dbt manifest.

Each mart's YAML (dbt_project/models/marts/<model>.yml) is its contract: enforced column names and
types, and the definitions. The docs show the same table between two markers, rewritten here:

    python -m orchestration.docs          # rewrite the tables (after `make manifest`)
    python -m orchestration.docs --check  # exit 1 when they drifted (tests/test_dbt_contract_docs.py)
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any

from orchestration import markdown
from orchestration.settings import DBT_PROJECT_DIR, PROJECT_ROOT

WAREHOUSE_DOC = PROJECT_ROOT / "docs" / "warehouse.md"
MANIFEST = DBT_PROJECT_DIR / "target" / "manifest.json"
_BLOCK = re.compile(
    r"(?P<open><!-- dbt columns: (?P<model>\w+) [^\n]*-->\n)(?P<body>.*?)(?P<close><!-- end dbt columns -->)", re.DOTALL
)


def mart_nodes(manifest: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        node["name"]: node
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["schema"] == "marts"
    }


def column_table(node: dict[str, Any]) -> str:
    rows = [(c["name"], c["data_type"].upper(), c["description"]) for c in node["columns"].values()]
    return markdown.table(["column", "type", "definition"], rows) + "\n"


def render(doc: str, manifest: dict[str, Any]) -> str:
    nodes = mart_nodes(manifest)

    def replace(match: re.Match[str]) -> str:
        node = nodes.get(match["model"])
        if node is None:
            raise KeyError(f"docs/warehouse.md documents {match['model']}, which is no mart in the manifest")
        return match["open"] + column_table(node) + match["close"]

    return _BLOCK.sub(replace, doc)


def documented_models(doc: str) -> list[str]:
    return [m["model"] for m in _BLOCK.finditer(doc)]


def main(argv: list[str]) -> int:
    manifest = json.loads(MANIFEST.read_text())
    doc = WAREHOUSE_DOC.read_text()
    rendered = render(doc, manifest)
    if "--check" in argv:
        if rendered != doc:
            print("docs/warehouse.md: the marts' column tables differ from the dbt YAML; run python -m orchestration.docs")
            return 1
        return 0
    WAREHOUSE_DOC.write_text(rendered)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
