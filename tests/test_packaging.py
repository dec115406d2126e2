"""pyproject.toml stays in the form current setuptools builds without deprecation warnings
(a TOML-table `license` prints a screenful of them on every install)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

PYPROJECT = tomllib.loads((Path(__file__).parent.parent / "pyproject.toml").read_text("utf-8"))
SPDX_SUPPORT = (77, 0, 3)  # the first setuptools reading `license = "MIT"` (PEP 639) reliably


def _minimum(requirement: str) -> tuple[int, ...]:
    found = re.fullmatch(r"setuptools\s*>=\s*([\d.]+)", requirement.strip())
    assert found, f"setuptools must be required with a minimum version: {requirement!r}"
    return tuple(int(part) for part in found.group(1).split("."))


def test_license_is_an_spdx_expression() -> None:
    assert PYPROJECT["project"]["license"] == "MIT"


def test_the_build_requires_a_setuptools_that_reads_spdx_licenses() -> None:
    requires = PYPROJECT["build-system"]["requires"]
    setuptools = [r for r in requires if r.startswith("setuptools")]
    assert len(setuptools) == 1
    assert _minimum(setuptools[0]) >= SPDX_SUPPORT
