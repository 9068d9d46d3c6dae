"""Offline recognition: voice activity cuts speech out of the stream, PocketSphinx decodes it.

The decoder is constrained by a JSGF grammar built from the phrase book (any sequence of its
phrases): a general language model gets short commands wrong, a grammar of a few dozen phrases
gets them right. A grammar always answers with *some* phrase, so every utterance is also decoded
by a phone loop (no words at all) and the two are compared: the confidence is how well the phones
the grammar's words should have agree with the phones actually heard. Speech that is not in the
phrase book (radio chatter, a bystander) disagrees and is rejected below `min_confidence`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from drills.speech import PhraseBook, acts_in_text
from range.voice.audio import SAMPLE_RATE_HZ, Pcm

# Below this the phone loop and the grammar disagree too much to call it an act; calibrated on
# bench/speech.py's espeak-ng phrases and non-command sentences (docs/speech.md).
MIN_CONFIDENCE = 0.1
# Silence kept before and after a voiced segment: the acoustic model needs some context.
PAD_S = 0.3
# The endpointer's decision window: speech ends after this much non-speech (so it adds to latency).
VAD_WINDOW_S = 0.21
# Noise floor added to digital silence: log-energy features of exact zeros derail the decoder.
DITHER_RMS = 30.0


@dataclass(frozen=True, slots=True)
class Heard:
    """One recognised act. Times are seconds from the start of the stream."""

    text: str  # every word recognised in the utterance
    phrase: str  # the phrase that performs `act`
    act: str
    confidence: float  # 0..1
    start_s: float
    end_s: float
    decided_s: float  # stream time when the end of speech was detected
    latency_s: float  # end of speech -> event (detection delay + decoding time)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def grammar(book: PhraseBook) -> str:
    """The phrase book as a JSGF grammar: any sequence of its phrases."""
    phrases = " | ".join(f"( {p} )" for p in sorted(book.phrase_acts()))
    head = "#JSGF V1.0;\ngrammar openrange;\npublic <utterance> = <phrase>+;\n"
    return f"{head}<phrase> = {phrases};\n"


def _edit_distance(a: list[str], b: list[str]) -> int:
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, y in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (x != y))
    return row[-1]


class Recognizer:
    """Decodes one utterance (16 kHz int16) into text and a confidence.

    Raises ValueError naming the word when the phrase book has a word that neither the en-us
    dictionary nor its [pronunciations] knows."""

    def __init__(self, book: PhraseBook, rng_seed: int = 0) -> None:
        import pocketsphinx

        self.book = book
        model = pocketsphinx.get_model_path()
        # Default beams: narrower ones (1e-20, 1e-30) decode faster but often end no path in
        # the grammar's final state and return nothing (measured in bench/speech.py).
        self._words = pocketsphinx.Decoder(loglevel="FATAL")
        for word, phones in book.pronunciations.items():
            self._words.add_word(word, phones, True)
        for word in sorted(book.words()):
            if self._words.lookup_word(word) is None:
                raise ValueError(
                    f"phrase book word {word!r} is not in the en-us dictionary; "
                    "add it under [pronunciations]"
                )
        self._words.add_jsgf_string("phrases", grammar(book))
        self._words.activate_search("phrases")
        self._phones = pocketsphinx.Decoder(
            loglevel="FATAL", allphone=f"{model}/en-us/en-us-phone.lm.bin", lw=2.0
        )
        # Each utterance starts from the same cepstral mean: a decoder that adapts across
        # utterances decodes the same words differently depending on what came before.
        self._cmn_words = self._words.get_cmn(False)
        self._cmn_phones = self._phones.get_cmn(False)
        self._seed = rng_seed

    def _run(self, decoder: Any, cmn: str, raw: bytes) -> list[tuple[str, int, int]]:
        decoder.set_cmn(cmn)
        decoder.start_utt()
        decoder.process_raw(raw, full_utt=True)
        decoder.end_utt()
        if decoder.hyp() is None:
            return []
        return [(s.word, s.start_frame, s.end_frame) for s in decoder.seg()]

    def decode(self, pcm: Pcm) -> tuple[str, float]:
        """(words, confidence 0..1) for one utterance."""
        # The same dither for every utterance: a clip decodes the same whatever came before it.
        rng = np.random.default_rng(self._seed)
        noisy = pcm.astype(np.float64) + rng.normal(0.0, DITHER_RMS, len(pcm))
        raw = np.clip(noisy, -32768, 32767).astype(np.int16).tobytes()
        segs = [s for s in self._run(self._words, self._cmn_words, raw) if _is_word(s[0])]
        if not segs:
            return "", 0.0
        first, last = segs[0][1], segs[-1][2]
        expected: list[str] = []
        for word, _, _ in segs:
            phones = self._words.lookup_word(word)
            expected.extend(phones.split() if phones else [])
        heard = [
            p
            for p, start, end in self._run(self._phones, self._cmn_phones, raw)
            if _is_word(p) and end >= first and start <= last
        ]
        distance = _edit_distance(expected, heard)
        confidence = max(0.0, 1.0 - distance / max(len(expected), 1))
        text = " ".join(_base(word) for word, _, _ in segs)
        return text, confidence


def _is_word(token: str) -> bool:
    return not (token.startswith("<") or token.startswith("[") or token.startswith("+"))


def _base(word: str) -> str:
    return word.split("(", 1)[0]  # "get(2)": an alternative pronunciation of "get"


class Listener:
    """Voice activity + recognition over a stream of 16 kHz int16 blocks.

    `feed(block)` returns the acts heard in any utterance that ended in that block. The same
    class serves the microphone and a recording (docs/speech.md), so tests and bench/ exercise
    the live path. `clock` is the wall clock used to time decoding (time.perf_counter)."""

    def __init__(
        self,
        recognizer: Recognizer,
        *,
        min_confidence: float = MIN_CONFIDENCE,
        clock: Callable[[], float] = time.perf_counter,
        keep: Callable[[Pcm, float, float], None] | None = None,
    ) -> None:
        import pocketsphinx

        self.recognizer = recognizer
        self.min_confidence = min_confidence
        self._clock = clock
        self._keep = keep
        self._vad = pocketsphinx.Endpointer(window=VAD_WINDOW_S, ratio=0.9, vad_mode=2)
        self._frame = self._vad.frame_bytes // 2
        self._pending = np.zeros(0, dtype=np.int16)
        self._history = np.zeros(0, dtype=np.int16)  # audio since the stream began (trimmed)
        self._history_start = 0  # sample index of _history[0]
        self._t_samples = 0
        self._speech_start: float | None = None

    def feed(self, block: Pcm) -> list[Heard]:
        heard: list[Heard] = []
        self._pending = np.concatenate([self._pending, block])
        while len(self._pending) >= self._frame:
            frame, self._pending = self._pending[: self._frame], self._pending[self._frame :]
            heard.extend(self._frame_in(frame))
        return heard

    def close(self) -> list[Heard]:
        """End of stream: decode speech still open."""
        if self._speech_start is None:
            return []
        end_s = self._t_samples / SAMPLE_RATE_HZ
        return self._decide(self._speech_start, end_s, end_s)

    def _frame_in(self, frame: Pcm) -> list[Heard]:
        self._history = np.concatenate([self._history, frame])
        self._t_samples += len(frame)
        was_speech = self._vad.in_speech
        self._vad.process(frame.tobytes())
        now_s = self._t_samples / SAMPLE_RATE_HZ
        out: list[Heard] = []
        if self._vad.in_speech and not was_speech:
            self._speech_start = float(self._vad.speech_start)
        elif was_speech and not self._vad.in_speech and self._speech_start is not None:
            out = self._decide(self._speech_start, float(self._vad.speech_end), now_s)
            self._speech_start = None
        if self._speech_start is None:
            # Keep only the padding a future utterance might need.
            keep = int(PAD_S * SAMPLE_RATE_HZ) * 2
            if len(self._history) > keep:
                self._history_start += len(self._history) - keep
                self._history = self._history[-keep:]
        return out

    def _decide(self, start_s: float, end_s: float, decided_s: float) -> list[Heard]:
        tick = self._clock()
        lo = max(int((start_s - PAD_S) * SAMPLE_RATE_HZ) - self._history_start, 0)
        hi = int((end_s + PAD_S) * SAMPLE_RATE_HZ) - self._history_start
        clip = self._history[lo:hi]
        text, confidence = self.recognizer.decode(clip)
        if self._keep is not None:
            self._keep(clip, start_s, end_s)
        latency_s = (decided_s - end_s) + (self._clock() - tick)
        if confidence < self.min_confidence:
            return []
        return [
            Heard(text, m.phrase, m.act, confidence, start_s, end_s, decided_s, latency_s)
            for m in acts_in_text(text, self.recognizer.book)
        ]


def listen(blocks: Iterable[Pcm], listener: Listener) -> Iterator[Heard]:
    """Every act heard in a stream of blocks, as each utterance ends."""
    for block in blocks:
        yield from listener.feed(block)
    yield from listener.close()
