"""Streaming a checkpoint frame by frame, and scoring timelines (``prospect stream`` / ``prospect eval``)."""
import json
import os
import queue
import threading
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import torch

from . import _prospect
from ._prospect import Clip

PathLike = Union[str, "os.PathLike[str]"]


class Stream:
    """A checkpoint loaded once for streaming: the engine of ``prospect stream`` (docs/STREAMING.md).

    ``max_context`` and ``frame_stride`` default to what the checkpoint was trained with (its
    train_config.json), as the command does; ``notes`` says where each came from.
    """

    def __init__(self, model_dir: PathLike, *, tokenizer: Optional[PathLike] = None,
                 frames_root: Optional[PathLike] = None, threshold_dst: float = 0.5,
                 threshold_speak: float = 0.5, constrain_dst: bool = True, max_context: Optional[int] = None,
                 refresh_margin: int = 512, frame_stride: Optional[int] = None, context_policy: str = "refresh",
                 teacher_forced: bool = False, max_dst_tokens: int = 32, max_speak_tokens: int = 128,
                 threads: Optional[int] = None, encode_batch: int = 8, device: str = "cpu", dtype: str = "fp32",
                 reroute_dst_speech: bool = True, min_reset_prob: float = 0.0):
        self._core = _prospect._StreamCore(
            os.fspath(model_dir), os.fspath(tokenizer) if tokenizer else "",
            os.fspath(frames_root) if frames_root else "", float(threshold_dst), float(threshold_speak),
            bool(constrain_dst), int(max_context or 0), int(refresh_margin), int(frame_stride or 0),
            context_policy, bool(teacher_forced), int(max_dst_tokens), int(max_speak_tokens), int(threads or 0),
            int(encode_batch), device, dtype, bool(reroute_dst_speech), float(min_reset_prob))

    def run(self, clip: Clip, clip_position: Optional[int] = None, *,
            frames: Union[None, Callable[[int], object], object] = None,
            on_event: Optional[Callable[[dict, Dict[str, str]], None]] = None,
            on_frame: Optional[Callable[[dict], None]] = None, frames_root: Optional[PathLike] = None) -> dict:
        """Streams one clip from its initial state.

        ``frames``: None reads the clip's frames file (under ``frames_root``, the Stream's, else the clip file's
        folder); a callable ``frame_index -> picture``; or an array (numpy or torch) of pictures indexed from the
        clip's ``start_frame``. A picture is RGB [H, W, 3] uint8 (a llama_features model takes [K, D] features).
        ``on_event(event, state)`` hears each DST update or utterance as it happens (``event`` is a timeline line
        as a dict, ``state`` the tracked state after it); ``on_frame(decision)`` each visited frame's
        probabilities. Returns ``{"clip", "events", "decisions", "final_state", "log", "stats"}``; ``events`` is
        the timeline ``prospect stream --timeline`` writes.
        """
        fn = None
        if frames is not None:
            if callable(frames):
                fn = lambda f: torch.as_tensor(frames(f))  # noqa: E731
            else:
                table = torch.as_tensor(frames)
                start = clip.start_frame
                fn = lambda f: table[f - start]  # noqa: E731
        pos = clip.index_in_file if clip_position is None else int(clip_position)
        return self._core.run(clip, pos, fn, on_event, on_frame, os.fspath(frames_root) if frames_root else "")

    def live(self, clip: Clip, clip_position: Optional[int] = None) -> "LiveStream":
        """A live run of one clip: ``push(picture)`` feeds the next planned frame and returns the events it
        caused (a camera loop: grab a picture, push it, act on the events)."""
        pos = clip.index_in_file if clip_position is None else int(clip_position)
        return LiveStream(self, clip, pos)

    def planned_frames(self, clip: Clip) -> List[int]:
        """The frames a run visits, in order."""
        return self._core.planned_frames(clip)

    @property
    def state(self) -> Dict[str, str]:
        """The tracked task state: during a run (from a callback) the state so far, after it the final one."""
        return self._core.state

    @property
    def notes(self) -> List[str]:
        return self._core.notes

    @property
    def options(self) -> dict:
        return self._core.options


class _Stop(Exception):
    pass


class LiveStream:
    """One clip streamed as frames arrive (``Stream.live``). The engine runs in a helper thread that waits for
    each pushed picture; ``push`` returns once that frame's decisions (and any generation) are done.

    ``frames``: the planned frame indices, in order (every frame, or every ``frame_stride``-th with the anchor
    frames); ``push`` feeds them in that order. ``state`` is the tracked state after the last push;
    ``close()`` returns the run's result (as ``Stream.run``) once every planned frame was pushed, or stops the
    run early and returns None.
    """

    def __init__(self, stream: Stream, clip: Clip, clip_position: int):
        self._stream = stream
        self.clip = clip
        self.frames: List[int] = stream.planned_frames(clip)
        self.state: Dict[str, str] = dict(clip.initial_state)
        self._pushed = 0
        self._in: "queue.Queue" = queue.Queue()
        self._out: "queue.Queue" = queue.Queue()
        self._events: List[dict] = []
        self._result: Optional[dict] = None
        self._finished = False

        def frames_fn(frame):
            picture = self._in.get()
            if picture is _Stop:
                raise _Stop()
            return torch.as_tensor(picture)

        def on_event(event, state):
            self._events.append(event)
            self.state = state

        def work():
            try:
                self._result = stream._core.run(clip, clip_position, frames_fn, on_event,
                                                lambda d: self._out.put(("frame", d)), "")
                self._out.put(("done", None))
            except _Stop:
                self._out.put(("stopped", None))
            except BaseException as e:  # noqa: BLE001  (handed to the caller of push / close)
                self._out.put(("error", e))

        self._thread = threading.Thread(target=work, name="prospect-live-stream", daemon=True)
        self._thread.start()

    @property
    def next_frame(self) -> Optional[int]:
        """The frame index the next push feeds, or None when every planned frame was pushed."""
        return self.frames[self._pushed] if self._pushed < len(self.frames) else None

    def push(self, picture) -> List[dict]:
        """Feeds the next planned frame (RGB [H, W, 3] uint8, numpy or torch; [K, D] features for a
        llama_features model) and returns the events (timeline dicts) it caused. Raises what the run raised
        (ProspectError for a bad picture); the run is over after an error."""
        if self._finished or self._pushed >= len(self.frames):
            raise _prospect.ProspectError(f"{self.clip.source_file}: clip {self.clip.index_in_file}: all "
                                          f"{len(self.frames)} planned frames were pushed (or the run ended)")
        self._in.put(picture)
        self._pushed += 1
        kind, payload = self._out.get()
        if kind == "error":
            self._finished = True
            raise payload
        events, self._events = self._events, []
        return events

    def close(self) -> Optional[dict]:
        """The run's result when every planned frame was pushed; else stops the run and returns None."""
        if not self._finished:
            if self._pushed < len(self.frames):
                self._in.put(_Stop)
            while True:
                kind, payload = self._out.get()
                if kind in ("done", "stopped", "error"):
                    break
            self._finished = True
        self._thread.join()
        return self._result if self._pushed >= len(self.frames) else None


def _clips(clips) -> Tuple[List[Clip], str]:
    if isinstance(clips, (str, os.PathLike)):
        return _prospect.read_clips(os.fspath(clips)), os.fspath(clips)
    return list(clips), "<clips>"


def evaluate(clips: Union[PathLike, Sequence[Clip]], timeline: Union[PathLike, Sequence[Union[dict, str]]],
             window: Tuple[float, float] = (-2.5, 2.5)) -> dict:
    """The metrics of ``prospect eval --predictions`` (docs/STREAMING.md) as a dict: ``dst_transition``,
    ``speaking``, ``state_accuracy``, ``joint_state_accuracy``, ``clips``, ``window`` ...

    ``clips``: the data file (or its clips, in file order: events name clips by position). ``timeline``: a
    JSONL file, or its events as dicts or JSON lines (``Stream.run(...)["events"]`` of every clip).
    """
    cs, _ = _clips(clips)
    if isinstance(timeline, (str, os.PathLike)):
        origin = os.fspath(timeline)
        with open(origin, encoding="utf-8") as f:
            text = f.read()
    else:
        origin = "<timeline>"
        text = "".join((e if isinstance(e, str) else json.dumps(e)).rstrip("\n") + "\n" for e in timeline)
    left, right = window
    return json.loads(_prospect._evaluate(cs, text, origin, float(left), float(right)))


def oracle_timeline(clips: Union[PathLike, Sequence[Clip]]) -> List[dict]:
    """The built-in oracle's timeline (every reference event at its anchor frame), as ``prospect eval --oracle``."""
    cs, _ = _clips(clips)
    return [json.loads(line) for line in _prospect._oracle_timeline(cs).splitlines() if line.strip()]
