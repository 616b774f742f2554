"""What the lab's STT server needs, and how another server takes its place."""

from __future__ import annotations

from pathlib import Path

import pytest

from chaos.exceptions import ChaosError, StackError
from chaos.stack import services
from chaos.stack.config import StackSettings
from chaos.stack.processes import free_port
from chaos.stt import server
from chaos.stt.voices import speak, upload_notes


def test_missing_binaries_fail_with_their_install_command(
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


def test_another_server_replaces_the_lab_one_by_url(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CHAOSLAB_AGENT_ENV", '{"AGENT_STT__URL": "http://127.0.0.1:8000"}')
    env = services.agent_env(StackSettings(state_dir=tmp_path), tmp_path)
    assert env["AGENT_STT__URL"] == "http://127.0.0.1:8000"


def test_voice_notes_that_cannot_be_uploaded_are_a_chaos_error() -> None:
    """The runner records a ChaosError in the journal; anything else would lose it."""
    with pytest.raises(ChaosError, match=r"could not upload a voice note: ConnectError"):
        upload_notes(f"http://127.0.0.1:{free_port()}", "key")
