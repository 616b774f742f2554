"""A real speech-to-text server with OpenAI's ``POST /v1/audio/transcriptions`` API.

Audio of any format ffmpeg reads (WhatsApp voice notes are OGG/Opus) is converted to
16 kHz mono PCM and decoded by pocketsphinx with its shipped English acoustic model and
dictionary. Its general language model is poor on short guest messages, so by default
the server builds a trigram model at start-up from ``corpus_en.txt`` (sentences guests
send a hotel): words and phrasings outside it are still recognised, less well. Only
English is transcribed. Audio in which pocketsphinx's voice activity detector finds less
than ``MIN_SPEECH_S`` of speech is an empty transcription: a fresh decoder otherwise
"hears" a word in silence. Any OpenAI-compatible server (faster-whisper-server, a vLLM or
whisper.cpp server) can take its place by URL (``AGENT_STT__URL``).

Form fields: ``file`` (required), ``model``, ``language``, ``prompt``,
``response_format`` (json, text or verbose_json), ``temperature``. Errors use OpenAI's
envelope, ``{"error": {"message", "type", "param", "code"}}``. Decoding runs one at a
time in a worker thread (a pocketsphinx decoder is not thread-safe).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import re
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

CORPUS = Path(__file__).with_name("corpus_en.txt")
MAX_BYTES = 25 * 1024 * 1024  # OpenAI's limit
SAMPLE_RATE = 16_000
FORMATS = ("json", "text", "verbose_json")
MIN_SPEECH_S = 0.15  # measured: pink noise at -34 dBFS scores 0.12 s, espeak-ng "hi" 0.6 s


class AudioError(ValueError):
    """Audio ffmpeg could not read."""


def openai_error(status: int, message: str, param: str | None = None) -> JSONResponse:
    return JSONResponse(
        {
            "error": {
                "message": message,
                "type": "invalid_request_error",
                "param": param,
                "code": None,
            }
        },
        status_code=status,
    )


def to_pcm(audio: bytes, timeout_s: float = 30.0) -> bytes:
    """16 kHz mono signed 16-bit PCM from audio in any format ffmpeg reads."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise RuntimeError("ffmpeg is not installed (apt-get install ffmpeg)")
    done = subprocess.run(
        [ffmpeg, "-nostdin", "-loglevel", "error", "-i", "pipe:0", "-f", "s16le", "-ac", "1",
         "-ar", str(SAMPLE_RATE), "pipe:1"],
        input=audio,
        capture_output=True,
        timeout=timeout_s,
        check=False,
    )  # fmt: skip
    if done.returncode != 0 or not done.stdout:
        raise AudioError(done.stderr.decode(errors="replace").strip()[:300] or "no audio")
    return done.stdout


def build_language_model(corpus: Path, out: Path) -> Path:
    """A trigram ARPA model of the corpus sentences (pocketsphinx's builder)."""
    from pocketsphinx.lm import ArpaBoLM

    lines = [re.sub(r"[^a-z' ]+", " ", line.lower()).strip() for line in corpus.open()]
    text = "\n".join(line for line in lines if line)
    model = ArpaBoLM(sentfile=io.StringIO(text), add_start=True)
    model.compute()
    model.write_file(str(out))
    return out


def speech_seconds(pcm: bytes) -> float:
    """How much of ``pcm`` pocketsphinx's voice activity detector takes for speech."""
    from pocketsphinx import Vad

    vad = Vad(Vad.LOOSE, SAMPLE_RATE)
    step = vad.frame_bytes
    frames = sum(vad.is_speech(pcm[i : i + step]) for i in range(0, len(pcm) - step + 1, step))
    return frames * vad.frame_length


class Recognizer:
    """One pocketsphinx decoder behind a lock."""

    def __init__(self, corpus: Path | None = CORPUS) -> None:
        from pocketsphinx import Decoder

        self._folder = tempfile.TemporaryDirectory(prefix="stt-")
        if corpus is not None:
            lm = build_language_model(corpus, Path(self._folder.name) / "hotel.arpa")
            self._decoder = Decoder(lm=str(lm), loglevel="ERROR")
        else:
            self._decoder = Decoder(loglevel="ERROR")
        self._lock = threading.Lock()

    def transcribe(self, pcm: bytes) -> str:
        """The words heard in 16 kHz PCM; empty when there is no speech."""
        if speech_seconds(pcm) < MIN_SPEECH_S:
            return ""
        with self._lock:
            self._decoder.start_utt()
            self._decoder.process_raw(pcm, full_utt=True)
            self._decoder.end_utt()
            hyp = self._decoder.hyp()
        return hyp.hypstr.strip() if hyp is not None else ""


def create_stt_app(recognizer: Recognizer | None = None) -> FastAPI:
    """The transcription app; ``recognizer`` defaults to the corpus-tuned one."""
    state: dict[str, Any] = {"recognizer": recognizer}

    def get() -> Recognizer:
        if state["recognizer"] is None:
            state["recognizer"] = Recognizer()
        return state["recognizer"]

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await asyncio.to_thread(get)  # the model loads before the first request
        yield

    app = FastAPI(title="hotel-chaos-lab speech to text", lifespan=lifespan)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        return {"object": "list", "data": [{"id": "pocketsphinx-en", "object": "model"}]}

    @app.post("/v1/audio/transcriptions")
    async def transcriptions(request: Request) -> Response:
        if not request.headers.get("content-type", "").startswith("multipart/form-data"):
            return openai_error(415, "send multipart/form-data with a 'file' field")
        declared = int(request.headers.get("content-length") or 0)
        if declared > MAX_BYTES:
            return openai_error(413, f"the file is larger than {MAX_BYTES} bytes", "file")
        try:
            form = await request.form(max_files=1, max_fields=10)
        except Exception as exc:  # python-multipart's own errors: a malformed body
            return openai_error(400, f"malformed multipart body: {exc}")
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            return openai_error(400, "a 'file' field with the audio is required", "file")
        fmt = str(form.get("response_format") or "json")
        if fmt not in FORMATS:
            return openai_error(400, f"response_format must be one of {', '.join(FORMATS)}")
        language = str(form.get("language") or "en")
        if language not in ("en", "english"):
            return openai_error(400, "this server transcribes English only", "language")
        audio = await upload.read()
        if not audio:
            return openai_error(400, "the file is empty", "file")
        started = time.perf_counter()
        try:
            pcm = await asyncio.to_thread(to_pcm, audio)
        except AudioError as exc:
            return openai_error(400, f"could not decode the audio: {exc}", "file")
        text = await asyncio.to_thread(get().transcribe, pcm)
        if fmt == "text":
            return PlainTextResponse(text)
        body: dict[str, Any] = {"text": text}
        if fmt == "verbose_json":
            body |= {
                "task": "transcribe",
                "language": "english",
                "duration": round(len(pcm) / 2 / SAMPLE_RATE, 3),
                "processing_s": round(time.perf_counter() - started, 3),
            }
        return JSONResponse(body)

    return app


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    parser = argparse.ArgumentParser(prog="python -m chaos.stt", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument(
        "--general-model", action="store_true", help="pocketsphinx's general language model"
    )
    args = parser.parse_args(argv)
    if shutil.which("ffmpeg") is None:
        raise SystemExit("python -m chaos.stt: ffmpeg not found: apt-get install ffmpeg")
    recognizer = Recognizer(corpus=None if args.general_model else CORPUS)
    uvicorn.run(create_stt_app(recognizer), host=args.host, port=args.port, log_level="warning")
