"""The after-action review as a video: a saved run replayed from one person's eyes
(range/review/replay.py, moderngl on EGL: no display needed), one frame every 1/fps s of run
time, encoded with PyAV (FFmpeg's libraries, shipped in its wheels) as VP8 in WebM, which every
browser plays.

The console makes the file on the first request and keeps it in the run's folder
(`review-officer.webm`), so a debrief watched twice is encoded once.
"""

from __future__ import annotations

import math
import os
from fractions import Fraction
from pathlib import Path

from range.review.render import Renderer
from range.review.replay import Replay

VIDEO_FPS = 10  # enough to follow who moved where; a 60 s drill is 601 frames
VIDEO_SIZE = (480, 320)  # the console's live view; even sides, as 4:2:0 chroma needs
VIDEO_FOV_DEG = 70.0
CODEC = "libvpx"  # VP8
VIDEO_BITRATE = 800_000  # bits/s: a 60 s review about 6 MB


def video_frame_count(end_s: float, fps: int = VIDEO_FPS) -> int:
    """Frames of a run `end_s` long: one at t = 0, 1/fps, ... up to the end (the last partial
    interval shows the last frame)."""
    return math.floor(end_s * fps + 1e-9) + 1


def review_video_path(run_dir: Path, who: str = "officer") -> Path:
    return run_dir / f"review-{who}.webm"


def write_review_video(
    run_dir: Path,
    out: Path,
    who: str = "officer",
    fps: int = VIDEO_FPS,
    size: tuple[int, int] = VIDEO_SIZE,
) -> int:
    """Render the run in `run_dir` as `who` saw it (replay.Viewpoint: officer, subject, a
    subject id, bystander) and encode it to `out` (WebM, VP8, `fps` frames/s, `size` pixels).
    Returns the frame count. The file appears whole or not at all (written beside, renamed).
    Errors: ReplayError for an unknown `who`, RenderUnavailableError without EGL."""
    import av

    from range import outfile
    from range.runs.saved import saved_drill_run

    outfile.check(out)  # not a run's own file, not a device (nu23 #1)
    records, drill = saved_drill_run(run_dir)
    partial = out.with_name(f".{out.name}.{os.getpid()}.part")
    count = 0
    try:
        with Renderer(*size) as renderer, av.open(str(partial), "w", format="webm") as container:
            replay = Replay(records, renderer, drill, who)
            stream = container.add_stream(CODEC, rate=Fraction(fps))
            assert isinstance(stream, av.VideoStream)  # for mypy: a video codec's stream
            stream.width, stream.height = size
            stream.pix_fmt = "yuv420p"
            stream.bit_rate = VIDEO_BITRATE
            for k in range(video_frame_count(replay.end_s, fps)):
                image = renderer.render(replay.update(k / fps), VIDEO_FOV_DEG)
                frame = av.VideoFrame.from_ndarray(image, format="rgb24")
                frame.pts = k
                container.mux(stream.encode(frame))
                count += 1
            container.mux(stream.encode(None))
        partial.replace(out)
    finally:
        partial.unlink(missing_ok=True)
    return count
