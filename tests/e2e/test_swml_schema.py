"""Issue 13, acceptance 6: our SWML examples (crates/swml/tests/examples/, written from the method
shapes in SignalWire's public documentation) are valid against the calling-SWML JSON Schema that
SignalWire publishes in the PyPI package `signalwire-sdk` (signalwire/schema.json). The Rust test
crates/swml/tests/examples.rs checks the same files against Weft's own validator. No server needed."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import signalwire
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = REPO_ROOT / "crates" / "swml" / "tests" / "examples"
SCHEMA_PATH = Path(signalwire.__file__).parent / "schema.json"
EXAMPLE_FILES = sorted(p for p in EXAMPLES.iterdir() if p.suffix in (".json", ".yaml"))


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(SCHEMA_PATH.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def load(path: Path) -> object:
    text = path.read_text()
    return json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)


def test_there_are_at_least_20_examples():
    assert len(EXAMPLE_FILES) >= 20, [p.name for p in EXAMPLE_FILES]


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.name)
def test_example_matches_the_published_schema(validator, path):
    errors = sorted(validator.iter_errors(load(path)), key=lambda e: list(e.absolute_path))
    described = [f"{'.'.join(map(str, e.absolute_path)) or '(document)'}: {e.message[:300]}" for e in errors]
    assert not described, f"{path.name} is invalid against {SCHEMA_PATH}:\n" + "\n".join(described)


def test_the_schema_rejects_what_it_should(validator):
    """A check that cannot fail is a defect: the published schema really rejects bad documents."""
    good = {"version": "1.0.0", "sections": {"main": [{"answer": {}}, {"hangup": {"reason": "busy"}}]}}
    assert validator.is_valid(good)
    for bad in (
        {"sections": {"other": []}},
        {"sections": {"main": [{"plya": {}}]}},
        {"sections": {"main": [{"hangup": {"reason": "bye"}}]}},
        {"sections": {"main": [{"play": {"volume": 3}}]}},
        {"sections": {"main": [{"goto": {"label": "x", "max": "three"}}]}},
        {"sections": {"main": [{"answer": {}, "hangup": {}}]}},
    ):
        assert not validator.is_valid(bad), bad
