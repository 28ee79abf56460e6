"""The committed browser bundle (explorer/ui/watch/watch.js) is what its sources build to.

The app needs no node: watch.js is committed. Where esbuild is installed (`npm ci` in explorer/ui/watch),
this rebuilds it with package.json's own build command and compares; elsewhere it is skipped.
"""

import json
import shlex
import subprocess
from pathlib import Path

import pytest

WATCH = Path(__file__).resolve().parents[1] / "explorer" / "ui" / "watch"
ESBUILD = WATCH / "node_modules" / ".bin" / "esbuild"


@pytest.mark.skipif(not ESBUILD.exists(), reason="esbuild is not installed (npm ci in explorer/ui/watch)")
def test_the_committed_bundle_is_built_from_the_sources(tmp_path):
    command = shlex.split(json.loads((WATCH / "package.json").read_text())["scripts"]["build"])
    assert command[0] == "esbuild" and "--outfile=watch.js" in command
    out = tmp_path / "watch.js"
    args = [str(ESBUILD), *(f"--outfile={out}" if a == "--outfile=watch.js" else a for a in command[1:])]
    subprocess.run(args, cwd=WATCH, check=True, capture_output=True)
    assert out.read_text(encoding="utf-8") == (WATCH / "watch.js").read_text(encoding="utf-8")
