"""A missing ffmpeg or espeak-ng fails with the command that installs it, never a skip."""

from __future__ import annotations

from pathlib import Path

import pytest

from chaos.exceptions import ChaosError, StackError
from chaos.stack import services
from chaos.stack.config import StackSettings
from chaos.stt import server
from chaos.stt.voices import speak


def test_missing_binaries_name_their_package(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: nothing is found
    with pytest.raises(ChaosError, match=r"apt-get install espeak-ng"):
        speak("hello")
    with pytest.raises(StackError, match=r"apt-get install ffmpeg"):
        services.stt(StackSettings(state_dir=tmp_path), tmp_path)
    with pytest.raises(RuntimeError, match=r"apt-get install ffmpeg"):
        server.to_pcm(b"OggS")
    with pytest.raises(SystemExit, match=r"apt-get install ffmpeg"):
        server.main(["--port", "1"])
