"""docs/flows.md names real code: every dotted name in backticks imports, and
every call drawn in a diagram is one of those names (so the page cannot rot)."""

import importlib
import re
from pathlib import Path

import pytest

FLOWS = Path(__file__).resolve().parent.parent / "docs" / "flows.md"
OUR_PACKAGES = {"accounts", "bookings", "coaching", "payments"}
# Calls in the diagrams that are the browser's or a library's, not ours.
NOT_OURS = {"createPaymentMethod", "confirmCardPayment", "delay"}

TEXT = FLOWS.read_text(encoding="utf-8")
DOTTED = sorted(
    {
        name
        for name in re.findall(r"`([A-Za-z_][\w]*(?:\.[A-Za-z_][\w]*)+)`", TEXT)
        if name.split(".", 1)[0] in OUR_PACKAGES
    }
)


def resolve(dotted: str):
    """Import the longest module prefix of ``dotted``, then walk attributes."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise ModuleNotFoundError(dotted)


def test_flows_doc_names_many_functions():
    assert len(DOTTED) > 50


@pytest.mark.parametrize("dotted", DOTTED)
def test_flows_doc_name_resolves(dotted):
    assert resolve(dotted) is not None


def test_flows_doc_diagrams_call_only_named_functions():
    named = {dotted.rsplit(".", 1)[-1] for dotted in DOTTED}
    diagrams = re.findall(r"```mermaid\n(.*?)```", TEXT, re.S)
    assert len(diagrams) == 7
    called = {
        name
        for diagram in diagrams
        for name in re.findall(r"([A-Za-z_]\w*)\(", diagram)
    }
    assert called - named - NOT_OURS == set()
