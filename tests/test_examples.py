"""Every example runs (small sizes) and reports success."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_quickstart_round_trips_real_digits() -> None:
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "quickstart.py"), "--batch", "16", "--num-steps", "20"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "round trip exact  : True" in result.stdout
    assert "[20, 16, 1, 28, 28]" in result.stdout


def test_readme_example_runs() -> None:
    readme = (EXAMPLES.parent / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, re.S)
    assert blocks, "the README lost its example"
    for block in blocks:
        exec(compile(block, "README.md", "exec"), {})
