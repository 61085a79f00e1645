"""The layering is checked, and the check bites (STYLE.md section 1).

``lint-imports`` (import-linter, contracts in pyproject.toml) runs in
``make test``. These tests run it on the tree as it is (every contract kept)
and on a copy of the apps with one deliberate violation each (the contract
broken), so a contract that silently stopped matching anything would fail
here.
"""

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ["coaching", "payments", "bookings", "accounts", "money"]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _lint(cwd: Path) -> subprocess.CompletedProcess:
    # import-linter finds the packages from the working directory.
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    """A copy of the apps' sources and the contracts, to break on purpose."""
    root = tmp_path_factory.mktemp("layers")
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package,
            root / package,
            ignore=shutil.ignore_patterns("__pycache__", "templates", "static"),
        )
    shutil.copy(ROOT / "pyproject.toml", root / "pyproject.toml")
    return root


def test_the_tree_keeps_every_contract():
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "source", "broken"),
    [
        # bookings reaching up into payments (the import issue 11 removed)
        (
            "bookings/upward.py",
            "from payments import services\n",
            "bookings is not allowed to import payments",
        ),
        # the bottom layer importing an app
        (
            "money/upward.py",
            "import accounts.models\n",
            "money is not allowed to import accounts",
        ),
        # Stripe outside the gateway
        ("payments/direct.py", "import stripe\n", "Only the gateway talks to Stripe"),
        # a cycle between two modules of payments.services
        (
            "payments/services/zz_first.py",
            "from payments.services import zz_second\n",
            "No cycles are allowed in payments.services",
        ),
    ],
    ids=["bookings-to-payments", "money-to-accounts", "stripe", "services-cycle"],
)
def test_a_deliberate_violation_breaks_a_contract(tree, module, source, broken):
    added = [tree / module]
    added[0].write_text(source)
    if module.endswith("zz_first.py"):
        added.append(tree / "payments/services/zz_second.py")
        added[1].write_text("from payments.services import zz_first\n")
    try:
        result = _lint(tree)
    finally:
        for path in added:
            path.unlink()
    assert result.returncode == 1, result.stdout + result.stderr
    assert broken in result.stdout, result.stdout


def test_money_is_pure():
    """money/ holds no models and reads no database or settings (import-linter
    cannot forbid parts of an outside package, so this reads the imports)."""
    for path in (ROOT / "money").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            for name in names:
                assert name.split(".")[0] != "django" or name.startswith(
                    "django.utils.translation"
                ), f"{path.name} imports {name}"
