"""The parity comparison and its limits on hand-made logits: each limit trips alone, every
failure is named, and the default limits refuse what they promise to refuse."""

from __future__ import annotations

import numpy as np
import pytest

from videoedge.export.config import DEFAULT_LIMITS, ParityLimits
from videoedge.export.parity import compare, failures

LABELS = np.array([0, 1, 2, 3] * 25)  # 100 clips, 4 classes


def reference() -> np.ndarray:
    """Clearly separated logits: PyTorch is right on every clip."""
    ref = np.full((len(LABELS), 4), -2.0)
    ref[np.arange(len(LABELS)), LABELS] = 3.0
    return ref


def flip_top1(logits: np.ndarray, clips: int) -> np.ndarray:
    """The first `clips` clips now pick the next class (wrong against the labels)."""
    out = logits.copy()
    for i in range(clips):
        out[i, (LABELS[i] + 1) % 4] = 4.0
    return out


def test_identical_logits_pass_every_default_limit():
    for precision, limits in DEFAULT_LIMITS.items():
        fig = compare("m.onnx", precision, reference(), reference(), LABELS)
        assert (fig.max_abs, fig.agreement, fig.accuracy_drop) == (0.0, 1.0, 0.0)
        assert fig.mean_cosine == pytest.approx(1.0)
        assert failures(fig, limits) == []


def test_the_figures_are_what_they_say():
    ref = reference()
    out = flip_top1(ref, 10)
    out[50, 2] += 0.5
    fig = compare("m.onnx", "int8", ref, out, LABELS)
    assert fig.clips == 100 and fig.agreement == 0.90
    assert fig.accuracy_torch == 1.0 and fig.accuracy == 0.90
    assert fig.accuracy_drop == pytest.approx(0.10)
    assert fig.max_abs == pytest.approx(6.0)  # -2 -> 4 on a flipped clip


def test_max_abs_trips_alone():
    out = reference() + 2e-4  # same decisions, same cosine direction almost, agreement 100%
    lines = failures(compare("m.onnx", "fp32", reference(), out, LABELS), DEFAULT_LIMITS["fp32"])
    assert len(lines) == 1 and "max abs logit diff" in lines[0] and "m.onnx (fp32)" in lines[0]


def test_agreement_trips_alone_under_the_default_int8_limit():
    # 3 of 100 clips change their top-1 between two classes PyTorch also got wrong, so
    # accuracy is unchanged: only agreement (97% < 98%) fails
    ref = reference()
    ref[:3] = 0.0
    ref[:3, (LABELS[:3] + 1) % 4] = 1.0  # PyTorch wrong on clips 0..2
    out = ref.copy()
    out[:3] = 0.0
    out[:3, (LABELS[:3] + 2) % 4] = 1.0  # ONNX wrong too, differently
    fig = compare("model.int8.onnx", "int8", ref, out, LABELS)
    assert fig.accuracy_drop == 0.0 and fig.agreement == 0.97
    lines = failures(fig, DEFAULT_LIMITS["int8"])
    assert len(lines) == 1 and "top-1 agreement 97.0% < 98.0%" in lines[0]
    assert "3 of 100 clips differ" in lines[0]


def test_accuracy_drop_trips_alone():
    limits = ParityLimits(max_accuracy_drop=0.01)
    fig = compare("m.onnx", "int8", reference(), flip_top1(reference(), 2), LABELS)
    lines = failures(fig, limits)
    assert len(lines) == 1 and "-2.0 points > 1.0" in lines[0]


def test_cosine_trips_alone():
    ref = reference()
    out = ref.copy()
    out[:, :] += np.where(np.arange(4) == 0, 1.5, 0.0)  # bend every vector, keep the argmax
    fig = compare("m.onnx", "fp16", ref, out, LABELS)
    assert fig.agreement == 1.0 and fig.mean_cosine < 0.99
    lines = failures(fig, ParityLimits(min_cosine=0.99))
    assert len(lines) == 1 and "mean cosine" in lines[0]


def test_every_failure_of_a_variant_is_named():
    fig = compare("model.int8.onnx", "int8", reference(), flip_top1(reference(), 5), LABELS)
    lines = failures(fig, ParityLimits(max_abs=1e-3, min_cosine=0.999, min_agreement=0.98,
                                       max_accuracy_drop=0.01))
    assert len(lines) == 4
    assert all(line.startswith("model.int8.onnx (int8): ") for line in lines)


def test_limits_at_their_edge_pass():
    fig = compare("m.onnx", "int8", reference(), flip_top1(reference(), 1), LABELS)
    assert fig.agreement == 0.99
    assert failures(fig, ParityLimits(min_agreement=0.99, max_accuracy_drop=0.01)) == []


def test_one_clip_of_slack_on_small_sets():
    """On 96 clips one flipped clip is 1.04 points: a 1-point accuracy limit and 99.5%
    agreement would refuse a file for one borderline clip; two flips still fail."""
    labels = np.array([0, 1, 2, 3] * 24)
    ref = np.full((96, 4), -2.0)
    ref[np.arange(96), labels] = 3.0
    one, two = ref.copy(), ref.copy()
    one[0, 1] = 4.0
    two[[0, 2], 1] = 4.0  # clips of classes 0 and 2 now pick class 1
    assert failures(compare("m.onnx", "int8", ref, one, labels), DEFAULT_LIMITS["int8"]) == []
    assert failures(compare("m.onnx", "fp16", ref, one, labels), DEFAULT_LIMITS["fp16"]) == []
    lines = failures(compare("m.onnx", "int8", ref, two, labels), DEFAULT_LIMITS["int8"])
    assert len(lines) == 2 and "accuracy" in lines[1] and "agreement" in lines[0]
    # on many clips the limits are as written
    assert failures(compare("m.onnx", "int8", reference(), flip_top1(reference(), 2), LABELS),
                    ParityLimits(max_accuracy_drop=0.01)) != []
