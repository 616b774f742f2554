"""Voice notes as WhatsApp sends them (OGG/Opus), synthesised with espeak-ng and ffmpeg,
for the tests and the traffic driver."""

from __future__ import annotations

import shutil
import subprocess

from chaos.exceptions import ChaosError


def _tool(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise ChaosError(f"{name} is not installed (apt-get install {package})")
    return path


def to_voice_note(wav: bytes) -> bytes:
    """OGG/Opus at 24 kbit/s, mono, as WhatsApp records voice notes."""
    ffmpeg = _tool("ffmpeg", "ffmpeg")
    done = subprocess.run(
        [ffmpeg, "-nostdin", "-loglevel", "error", "-i", "pipe:0", "-ac", "1", "-c:a", "libopus",
         "-b:a", "24k", "-f", "ogg", "pipe:1"],
        input=wav,
        capture_output=True,
        timeout=60,
        check=True,
    )  # fmt: skip
    return done.stdout


def speak(text: str, voice: str = "en-us", words_per_minute: int = 150) -> bytes:
    """``text`` spoken by espeak-ng, as a voice note."""
    espeak = _tool("espeak-ng", "espeak-ng")
    wav = subprocess.run(
        [espeak, "-v", voice, "-s", str(words_per_minute), "--stdout", text],
        capture_output=True,
        timeout=60,
        check=True,
    ).stdout
    return to_voice_note(wav)


def silence(seconds: float = 1.5) -> bytes:
    """A voice note with nothing said."""
    ffmpeg = _tool("ffmpeg", "ffmpeg")
    wav = subprocess.run(
        [ffmpeg, "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i",
         "anullsrc=r=16000:cl=mono", "-t", str(seconds), "-f", "wav", "pipe:1"],
        capture_output=True,
        timeout=60,
        check=True,
    ).stdout  # fmt: skip
    return to_voice_note(wav)
