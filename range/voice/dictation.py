"""Free speech to text, offline: what an officer says in a debrief, kept as recognised.

Commands are decoded against the phrase book's grammar (range.voice.recognize); a debrief answer
is open speech, so it is decoded with PocketSphinx's general en-us language model instead. That
model gets the gist of short sentences, not every word (docs/speech.md): the text is kept as an
answer to read, never matched against anything.
"""

from __future__ import annotations

import numpy as np

from range.voice.audio import Pcm

DITHER_RMS = 30.0  # as range.voice.recognize: exact digital silence derails the features


def transcribe(pcm: Pcm, seed: int = 0) -> str:
    """The words heard in 16 kHz mono int16 speech ("" for none). The same audio and seed give
    the same text."""
    if len(pcm) == 0:  # no samples at all (an empty or header-only file): nothing was said
        return ""
    import pocketsphinx

    decoder = pocketsphinx.Decoder(loglevel="FATAL")
    noisy = pcm.astype(np.float64) + np.random.default_rng(seed).normal(0.0, DITHER_RMS, len(pcm))
    decoder.start_utt()
    decoder.process_raw(np.clip(noisy, -32768, 32767).astype(np.int16).tobytes(), full_utt=True)
    decoder.end_utt()
    hyp = decoder.hyp()
    return "" if hyp is None else str(hyp.hypstr).strip()
