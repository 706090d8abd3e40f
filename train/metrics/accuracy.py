"""Accuracy as an `evaluate` metric module, shipped so `evaluate.load(<this file>)` works
offline (`evaluate.load("accuracy")` fetches its script from the Hugging Face hub)."""

import datasets
import evaluate

_DESCRIPTION = "Accuracy: the fraction of predictions equal to the references."
_CITATION = ""
_KWARGS_DESCRIPTION = """
Args:
    predictions (list of int): predicted labels.
    references (list of int): ground truth labels.
    normalize (bool): if False, return the count of correct predictions. Default True.
    sample_weight (list of float): sample weights. Default None.
Returns:
    accuracy (float or int).
Examples:
    >>> metric = evaluate.load("videoedge/train/metrics/accuracy.py")
    >>> metric.compute(references=[0, 1], predictions=[0, 0])
    {'accuracy': 0.5}
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class Accuracy(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features({"predictions": datasets.Value("int32"),
                                        "references": datasets.Value("int32")}),
        )

    def _compute(self, predictions, references, normalize=True, sample_weight=None):
        import numpy as np

        p, r = np.asarray(predictions), np.asarray(references)
        if p.shape != r.shape:
            raise ValueError(f"{len(p)} predictions for {len(r)} references")
        correct = (p == r).astype(np.float64)
        if sample_weight is not None:
            correct = correct * np.asarray(sample_weight, dtype=np.float64)
            total = float(np.sum(sample_weight))
        else:
            total = float(len(correct))
        if not normalize:
            return {"accuracy": float(correct.sum())}
        return {"accuracy": float(correct.sum() / total) if total else 0.0}
