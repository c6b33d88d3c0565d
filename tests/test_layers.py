"""Imports run one way (README "Layout"): `lint-imports` checks pyproject.toml's contracts, with
no ignored imports, and every module of the package sits in a layer."""
from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def contracts() -> list[dict]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]


def test_the_import_contracts_hold():
    lint = Path(sys.executable).with_name("lint-imports")
    run = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    assert "Contracts: 2 kept, 0 broken." in run.stdout


def test_no_import_is_ignored():
    for contract in contracts():
        assert "ignore_imports" not in contract, contract["name"]


def test_every_module_of_the_package_is_in_a_layer():
    layers = next(c for c in contracts() if c["type"] == "layers")["layers"]
    named = {name.strip() for layer in layers for name in layer.replace("|", ":").split(":")}
    tops = {p.stem if p.is_file() else p.name for p in (ROOT / "isf_ledger").iterdir()
            if (p.suffix == ".py" and p.stem != "__init__") or (p / "__init__.py").exists()}
    missing = sorted(f"isf_ledger.{t}" for t in tops if f"isf_ledger.{t}" not in named)
    assert missing == [], f"put these in a layer of pyproject.toml's [tool.importlinter]: {missing}"
