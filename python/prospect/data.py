"""The collator (``collate_fn`` / ``data_collator``) and the torch Dataset over (sub-)clips."""
import os
from typing import Dict, List, Optional, Sequence, Union

import torch

from . import _prospect
from ._prospect import Clip, SubClip

PathLike = Union[str, "os.PathLike[str]"]


def validate(paths: Union[PathLike, Sequence[PathLike]], strict: bool = False) -> dict:
    """`prospect validate`: reads every record it can and checks the step state machine.

    Returns ``{"ok", "strict", "records", "clips", "errors": [message], "findings": [{"kind", "file", "clip",
    "video_uid", "turn", "message"}]}``; ``ok`` is False on any error, and with ``strict`` on any finding.
    Never raises for bad clips (they are errors in the result); raises ProspectError only for bad arguments.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    return _prospect._validate([os.fspath(p) for p in paths], strict)


class Collator:
    """Renders, tokenizes, labels, loads frames and pads a list of clips or sub-clips exactly as
    ``prospect train`` does, with the ``data.*`` options of training (docs/CONFIGURATION.md).

    Usable as ``torch.utils.data.DataLoader(collate_fn=collator)`` and ``transformers.Trainer(
    data_collator=collator)``. Each call returns a dict of torch tensors:

    - ``input_ids``, ``attention_mask``, ``labels`` [B, T] int64: what ``SmolVLMForConditionalGeneration``
      takes (labels: the learned assistant and DST tokens, -100 elsewhere; right padding with the model's pad id);
    - ``pixel_values`` [B, N, 3, S, S] float32 (SmolVLM; all-zero images pad rows with fewer frames) or
      ``frame_features`` [frames, K, D] (the llama_features family);
    - ``lm_labels``, ``dst_labels`` [B, T]: the two label streams ``labels`` merges (the LM and DST-generation
      loss terms of ``prospect train``);
    - ``speak_labels``, ``dst_update_labels`` [B, T] (1 / 0 / -100) and the decision points:
      ``speak_positions`` / ``dst_positions`` [N, 2] (row, position) with ``speak_targets`` / ``dst_targets`` [N];
    - with ``decision="tokens"`` (docs/DECISIONS.md): ``decision_targets`` [B, T] and ``speak_target_ids`` /
      ``dst_target_ids`` [N], the marker token each decision point should predict.

    ``model_dir`` gives the tokenizer (``model_dir/tokenizer.json`` unless ``tokenizer`` is given), the image
    tokens per frame, the image size, the pad id and the decision mode of a checkpoint. Frames are read from
    each clip's frames file under ``frames_root`` (default: the item's Dataset root, else the clip file's folder).
    """

    def __init__(self, model_dir: PathLike, *, tokenizer: Optional[PathLike] = None,
                 frames_root: Optional[PathLike] = None, max_seq_len: int = 4096, frame_stride: int = 1,
                 context_frames: int = 0, neg_frame_sampling_rate: float = 0.5, anchor_jitter: float = 0.0,
                 refresh_cut_rate: float = 0.0, seed: int = 42, decision: Optional[str] = None, epoch: int = 0,
                 load_frames: bool = True):
        self._core = _prospect._CollatorCore(
            os.fspath(model_dir), os.fspath(tokenizer) if tokenizer else "",
            os.fspath(frames_root) if frames_root else "", int(max_seq_len), int(frame_stride),
            int(context_frames), float(neg_frame_sampling_rate), float(anchor_jitter), float(refresh_cut_rate),
            int(seed), decision or "", int(epoch), bool(load_frames))

    def __call__(self, items: Sequence[Union[Clip, SubClip]]) -> Dict[str, torch.Tensor]:
        """One padded batch of ``items`` (a Clip contributes every piece it splits into)."""
        return self._core.collate(list(items))

    def render(self, clip: Clip) -> List[dict]:
        """The samples of one clip as lists: input_ids, the four label streams, decision_targets, decisions."""
        return self._core.render(clip)

    def render_text(self, clip: Clip) -> str:
        """The whole rendered string of a clip, unsplit."""
        return self._core.render_text(clip)

    def num_sub_clips(self, clip: Clip) -> int:
        """How many pieces ``max_seq_len`` splits the clip into."""
        return self._core.num_sub_clips(clip)

    @property
    def epoch(self) -> int:
        """The epoch the negative-frame subsampling and augmentations draw from; set it each epoch."""
        return self._core.epoch

    @epoch.setter
    def epoch(self, value: int) -> None:
        self._core.epoch = int(value)

    @property
    def tokenizer(self) -> "_prospect.Tokenizer":
        return self._core.tokenizer

    @property
    def image_seq_len(self) -> int:
        return self._core.image_seq_len

    @property
    def decision_tokens(self) -> bool:
        return self._core.decision_tokens

    @property
    def pad_id(self) -> int:
        return self._core.pad_id


class Dataset(torch.utils.data.Dataset):
    """A ``torch.utils.data.Dataset`` over the (sub-)clips of one or more clip files.

    Items are ``prospect.SubClip`` handles (clip, piece, frames root); the collator renders them. With a
    ``collator``, clips longer than its ``max_seq_len`` count as one item per piece, as ``prospect train``
    counts samples; without one, each clip is one item (piece 0).
    """

    def __init__(self, path: Union[PathLike, Sequence[PathLike]], frames_root: Optional[PathLike] = None,
                 collator: Optional[Collator] = None):
        paths = [path] if isinstance(path, (str, os.PathLike)) else list(path)
        self.clips: List[Clip] = []
        for p in paths:
            self.clips.extend(_prospect.read_clips(os.fspath(p)))
        root = os.fspath(frames_root) if frames_root else ""
        self.items: List[SubClip] = []
        for clip in self.clips:
            n = collator.num_sub_clips(clip) if collator is not None else 1
            self.items.extend(SubClip(clip, i, root) for i in range(n))

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> SubClip:
        return self.items[index]
