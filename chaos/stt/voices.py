"""Voice notes as WhatsApp sends them (OGG/Opus), synthesised with espeak-ng and ffmpeg,
for the tests and the traffic driver."""

from __future__ import annotations

import functools
import shutil
import subprocess

import httpx

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


# Guest questions from the server's corpus, which the lab's STT server hears word for word.
LOAD_QUESTIONS = ("what time is check in", "is breakfast included", "do you have parking")


@functools.cache
def load_notes() -> tuple[bytes, ...]:
    """The load's voice notes, synthesised once per process (about a second each)."""
    return tuple(speak(q) for q in LOAD_QUESTIONS)


def upload_notes(graph_url: str, api_key: str) -> tuple[str, ...]:
    """Upload the load's voice notes to the Graph recorder; their media ids."""
    try:
        notes = load_notes()
    except (subprocess.SubprocessError, OSError) as exc:
        raise ChaosError(f"could not synthesise the voice notes: {exc}") from exc
    ids = []
    for audio in notes:
        try:
            response = httpx.post(
                f"{graph_url.rstrip('/')}/graph/_upload",
                content=audio,
                headers={"X-API-Key": api_key, "Content-Type": "audio/ogg; codecs=opus"},
                timeout=10,
            )
        except httpx.HTTPError as exc:
            raise ChaosError(f"could not upload a voice note: {type(exc).__name__}") from exc
        if response.status_code != 200:
            status = response.status_code
            raise ChaosError(f"the Graph recorder refused a voice note: HTTP {status}")
        ids.append(str(response.json()["id"]))
    return tuple(ids)
