"""The package as a wheel installs it: templates inside the package, no repository around it."""

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_an_installed_package_finds_its_templates(tmp_path):
    # NOTE: pyproject maps the top-level templates/ to backprop_derive/templates in the wheel;
    # this builds that layout by hand (fast) and renders from it in a fresh process.
    site = tmp_path / "site"
    shutil.copytree(ROOT / "backprop_derive", site / "backprop_derive",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "templates", site / "backprop_derive" / "templates")
    for fmt in ("md", "html", "tex", "txt"):
        result = subprocess.run(
            [sys.executable, "-m", "backprop_derive", "solve", str(ROOT / "examples" / "seed_relu.yaml"),
             "--format", fmt], cwd=tmp_path, env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"},
            capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr[-2000:]
        assert "50" in result.stdout
    check = subprocess.run(
        [sys.executable, "-c", "import backprop_derive.render.render as r; print(r._template_folder())"],
        cwd=tmp_path, env={"PYTHONPATH": str(site)}, capture_output=True, text=True, timeout=60)
    assert check.stdout.strip() == str(site / "backprop_derive" / "templates")
