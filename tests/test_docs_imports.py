"""docs/imports.md is the drawing of the code's imports: it must be current,
and its solid arrows between apps must run one way (dashed ones go into the
shared plumbing modules of ``coaching``)."""

import importlib.util
import re
from pathlib import Path

from django.conf import settings

SCRIPT = Path(settings.BASE_DIR) / "docs" / "draw_imports.py"


def _drawing():
    spec = importlib.util.spec_from_file_location("draw_imports", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_imports_drawing_is_current():
    drawing = _drawing()
    assert drawing.OUT.read_text() == drawing.render(), (
        "docs/imports.md is stale: run .venv/bin/python docs/draw_imports.py"
    )


def test_solid_arrows_between_apps_run_downhill():
    order = ["coaching", "payments", "bookings", "accounts", "money"]
    text = _drawing().render().split("## Inside")[0]
    for importer, imported in re.findall(r"(\w+) -->\|\d+\| (\w+)", text):
        assert order.index(importer) < order.index(imported), (importer, imported)
