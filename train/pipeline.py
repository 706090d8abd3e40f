"""`transformers.pipeline("video-classification")` on a trained model directory.

The exact call (transformers 5.x, no torchcodec/system FFmpeg needed):

    from transformers import pipeline
    from videoedge.runtime import Contract

    contract = Contract.load("RUN/model")
    pipe = pipeline("video-classification", model="RUN/model")
    pipe.video_processor = None  # decode with PyAV + the image processor, not torchcodec
    pipe("clip.avi", num_frames=contract.num_frames,
         frame_sampling_rate=round(contract.frame_stride * fps / contract.reference_fps))

Why: `pipeline()` loads a `VideoMAEVideoProcessor` for the directory (converted from its
preprocessor_config.json) and the pipeline prefers it; it decodes with torchcodec only, and
samples `num_frames` over the *whole* video, which is not how the model was trained. With the
video processor removed the pipeline takes its image-processor path: PyAV decodes frames
0, r, 2r, ... (linspace over the first num_frames * r frames), i.e. the contract's first clip
window when r = frame_stride x fps / reference_fps, and the image processor resizes the short
side and centre-crops as the contract says (PIL bilinear rather than OpenCV's, so scores
differ from `videoedge evaluate` in the third decimal).
"""

from __future__ import annotations

from pathlib import Path

from videoedge.runtime.contract import Contract


def sampling_kwargs(contract: Contract, fps: float | None = None) -> dict:
    """num_frames and frame_sampling_rate that reproduce the contract's clip at `fps`."""
    fps = fps or contract.reference_fps
    rate = max(1, round(contract.frame_stride * fps / contract.reference_fps))
    return {"num_frames": contract.num_frames, "frame_sampling_rate": rate}


def video_pipeline(model_dir: str | Path):
    """The video-classification pipeline for a videoedge model directory (see module doc)."""
    from transformers import pipeline

    pipe = pipeline("video-classification", model=str(model_dir))
    pipe.video_processor = None
    return pipe


def classify(pipe, path: str | Path, contract: Contract, top_k: int = 5) -> list[dict]:
    """Run the pipeline on one file with the contract's frame sampling at the file's fps."""
    import av

    with av.open(str(path)) as container:
        rate = container.streams.video[0].average_rate
    return pipe(str(path), top_k=top_k, **sampling_kwargs(contract, float(rate) if rate else None))
