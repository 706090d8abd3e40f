"""What the two training configs (`TrainConfig`, `PretrainConfig`) share: the checks of the
fields they both have, and filling a preset's recipe with what the user set."""

from __future__ import annotations


def problems(config) -> list[str]:
    """One line per invalid shared field (a config without a field skips its check)."""
    out = []
    for name in ("epochs", "batch_size", "max_steps", "repeats"):
        v = getattr(config, name, None)
        if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < 1):
            out.append(f"{name} must be a positive integer, got {v!r}")
    lr = getattr(config, "learning_rate", None)
    if lr is not None and not 0 < lr < 1:
        out.append(f"learning_rate must be in (0, 1), got {lr!r}")
    if not 0 <= config.warmup_ratio < 1:
        out.append(f"warmup_ratio must be in [0, 1), got {config.warmup_ratio!r}")
    if not isinstance(config.num_workers, int) or config.num_workers < 0:
        out.append(f"num_workers must be >= 0, got {config.num_workers!r}")
    return out


def fill(config, base: dict) -> dict:
    """The recipe `base` with every field the config sets (not None) taking its place."""
    return {k: base[k] if getattr(config, k, None) is None else getattr(config, k) for k in base}
