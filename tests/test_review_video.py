"""The after-action review as a video: a saved run rendered (moderngl on EGL) and encoded with
PyAV decodes to one frame per 1/fps s of run time, shows the run moving, and is served on the
run's console page to whoever may read the run."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
import pytest
from console_support import (
    Client,
    free_port,
    processes,
    saved_run,
    seed_accounts,
    start_console,
)

from range.records.store import Records
from range.review.replay import ReplayError
from range.review.video import (
    VIDEO_FPS,
    review_video_path,
    video_frame_count,
    write_review_video,
)
from range.runs.runlog import read_events


def _decode(data: bytes | Path) -> list[np.ndarray]:
    source = io.BytesIO(data) if isinstance(data, bytes) else str(data)
    with av.open(source) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def test_frame_count_is_one_per_interval_and_the_start() -> None:
    assert video_frame_count(0.0) == 1
    assert video_frame_count(1.0, 10) == 11
    assert video_frame_count(1.05, 10) == 11
    assert video_frame_count(0.3, 10) == 4  # 0.3 * 10 is 2.9999...; still the frame at 0.3


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, int, Path]:
    tmp = tmp_path_factory.mktemp("video")
    db_url = f"sqlite:///{tmp / 'records.sqlite'}"
    seed_accounts(db_url)
    run_id = saved_run(db_url, tmp / "runs", "B-101")
    with Records.open(db_url) as records:
        row = records.query("SELECT run_dir FROM drill_runs WHERE id = ?", run_id)[0]
    return db_url, run_id, Path(row["run_dir"])


def test_the_video_decodes_to_the_expected_frames(
    run: tuple[str, int, Path], tmp_path: Path
) -> None:
    _, _, run_dir = run
    end_s = max(r.t for r in read_events(run_dir))
    out = tmp_path / "officer.webm"
    written = write_review_video(run_dir, out)
    frames = _decode(out)
    assert written == len(frames) == video_frame_count(end_s, VIDEO_FPS)
    assert len(frames) > 50  # the console drill runs several seconds
    assert frames[0].shape == (320, 480, 3)
    with av.open(str(out)) as container:
        stream = container.streams.video[0]
        assert stream.average_rate == VIDEO_FPS
        assert stream.codec_context.name == "vp8"
    # The walker comes closer: the first and the last frames differ, neighbours barely do.
    first, second, last = (f.astype(np.int16) for f in (frames[0], frames[1], frames[-1]))
    assert np.abs(last - first).mean() > 4 * np.abs(second - first).mean()
    assert not list(tmp_path.glob(".*part"))  # nothing half-written left behind


def test_the_subjects_eyes_are_another_video(run: tuple[str, int, Path], tmp_path: Path) -> None:
    _, _, run_dir = run
    out = tmp_path / "subject.webm"
    assert write_review_video(run_dir, out, "subject", fps=2) == len(_decode(out))
    with pytest.raises(ReplayError):
        write_review_video(run_dir, tmp_path / "x.webm", "nobody", fps=2)
    assert not (tmp_path / "x.webm").exists()


@pytest.fixture
def console(run: tuple[str, int, Path], tmp_path: Path) -> Iterator[int]:
    db_url = run[0]
    port = free_port()
    with processes() as procs:
        procs.append(start_console(port, db_url, tmp_path / "console.log"))
        yield port


def test_the_run_page_serves_the_video_to_its_officer_only(
    run: tuple[str, int, Path], console: int
) -> None:
    _, run_id, run_dir = run
    base = f"http://127.0.0.1:{console}"
    alex = Client(base)
    alex.login("alex")
    page = alex.request(f"/runs/{run_id}")
    assert f'src="/runs/{run_id}/review.webm?eye=officer"' in page.body
    import urllib.request

    request = urllib.request.Request(
        f"{base}/runs/{run_id}/review.webm", headers={"Cookie": alex.cookie}
    )
    with urllib.request.urlopen(request, timeout=120) as response:
        assert response.headers["content-type"] == "video/webm"
        data = response.read()
    end_s = max(r.t for r in read_events(run_dir))
    assert len(_decode(data)) == video_frame_count(end_s)
    kept = review_video_path(run_dir)
    assert kept.read_bytes() == data  # kept: the second request is not encoded again
    mtime = kept.stat().st_mtime_ns
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.read() == data
    assert kept.stat().st_mtime_ns == mtime
    sam = Client(base)
    sam.login("sam")
    assert sam.request(f"/runs/{run_id}/review.webm").status == 403
    assert Client(base).request(f"/runs/{run_id}/review.webm").status == 303
    assert alex.request(f"/runs/{run_id}/review.webm?eye=top").status == 400
