"""The recogniser in-process: a fresh decoder hears nothing in silence or noise."""

from __future__ import annotations

import subprocess

import pytest

from chaos.stt.server import MIN_SPEECH_S, Recognizer, speech_seconds, to_pcm
from chaos.stt.voices import silence, speak, to_voice_note

pytestmark = pytest.mark.slow  # the language model takes about 3 s to build


def pink_noise(seconds: float = 2.0) -> bytes:
    wav = subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i",
         "anoisesrc=r=16000:a=0.02:c=pink", "-t", str(seconds), "-f", "wav", "pipe:1"],
        capture_output=True,
        check=True,
    ).stdout  # fmt: skip
    return to_voice_note(wav)


def test_silence_and_noise_are_empty_even_for_a_fresh_decoder() -> None:
    # Before the speech gate, a decoder's first utterance of silence came out as "to".
    recognizer = Recognizer()
    for audio in (silence(), pink_noise()):
        pcm = to_pcm(audio)
        assert speech_seconds(pcm) < MIN_SPEECH_S
        assert recognizer.transcribe(pcm) == ""
    assert recognizer.transcribe(to_pcm(speak("hello"))) == "hello"
