"""The end-to-end story of SPEC section 9 (`make demo`) as an automated test, through the real CLI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def test_the_story_holds_on_a_fresh_devnet(tmp_path: Path) -> None:
    dari = [sys.executable, "-m", "relayer"]
    up = subprocess.run(
        [*dari, "devnet", "up", "--dir", str(tmp_path), "--detach"], capture_output=True, text=True, timeout=120
    )
    try:
        assert up.returncode == 0, up.stderr
        story = subprocess.run([*dari, "demo", "--dir", str(tmp_path)], capture_output=True, text=True, timeout=300)
        assert story.returncode == 0, story.stdout + story.stderr
        assert story.stdout.count("✓") == 10
        for promise in ("TransferToUnverified", "recipient-not-verified", "balanced", "inclusion proofs verified"):
            assert promise in story.stdout
    finally:
        subprocess.run([*dari, "devnet", "down", "--dir", str(tmp_path)], capture_output=True, timeout=60)
