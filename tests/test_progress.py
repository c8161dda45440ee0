"""Progress lines where no terminal shows a bar (log files, batch jobs)."""

import io

from siammask.progress import Progress


def test_without_a_terminal_each_update_is_a_line_when_every_s_is_zero():
    stream = io.StringIO()
    with Progress(3, "siammask vot", "sequences", every_s=0.0, stream=stream) as progress:
        for name in ("a", "b", "c"):
            progress.update(note=name)
    lines = stream.getvalue().splitlines()
    assert [line.split(",")[0] for line in lines] == ["siammask vot: 1/3 sequences (a)", "siammask vot: 2/3 sequences (b)",
                                                      "siammask vot: 3/3 sequences (c)"]
    assert "\r" not in stream.getvalue()


def test_without_a_terminal_lines_are_periodic_and_the_last_one_always_comes():
    stream = io.StringIO()
    with Progress(100, "prepare coco/train", "chunks", initial=40, every_s=3600.0, stream=stream) as progress:
        for _ in range(60):
            progress.update()
    assert [line.split(",")[0] for line in stream.getvalue().splitlines()] == ["prepare coco/train: 100/100 chunks"]


def test_disabled_progress_prints_nothing():
    stream = io.StringIO()
    with Progress(2, "x", every_s=0.0, enabled=False, stream=stream) as progress:
        progress.update()
        progress.update()
    assert stream.getvalue() == ""
