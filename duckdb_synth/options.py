"""The options of a run, validated before anything is read or spent."""
from __future__ import annotations

import json
import math
import operator
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import OptionError, did_you_mean

#: Privacy modes and their epsilon; None means no formal DP.
MODES: dict[str, float | None] = {"balanced": None, "strict": 3.0, "strictest": 1.0}
DEFAULT_DELTA = 1e-6
MAX_ROWS = 100_000_000


@dataclass(frozen=True)
class Options:
    """What a user asked for. ``epsilon is None`` means balanced mode (no formal DP)."""

    mode: str
    epsilon: float | None
    delta: float
    masks: tuple[tuple[str, str], ...] = ()
    rows: int | None = None
    seed: int | None = None

    @property
    def private(self) -> bool:
        return self.epsilon is not None

    @property
    def mask_map(self) -> dict[str, str]:
        return dict(self.masks)


def parse_options(
    *,
    mode: str | None = None,
    epsilon: float | None = None,
    delta: float | None = None,
    masks: dict[str, str] | str | None = None,
    rows: int | None = None,
    seed: int | None = None,
) -> Options:
    """Check every option and return them as one value; raise OptionError naming the bad one."""
    if mode is not None and epsilon is not None:
        raise OptionError(
            f"give either mode ('{mode}') or epsilon ({epsilon}), not both: "
            "mode 'strict' means epsilon=3 and 'strictest' epsilon=1"
        )
    if epsilon is not None:
        eps = _number("epsilon", epsilon)
        if not (eps > 0) or not math.isfinite(eps):
            raise OptionError(f"epsilon must be a finite number > 0, got {epsilon!r}")
        name = "custom"
    else:
        name = "balanced" if mode is None else str(mode).strip().lower()
        if name not in MODES:
            raise OptionError(
                f"unknown mode '{mode}'{did_you_mean(name, MODES)}; valid modes: {', '.join(MODES)} "
                "(or give epsilon := x for a custom budget)"
            )
        eps = MODES[name]
    if delta is not None:
        d = _number("delta", delta)
        if eps is None:
            raise OptionError("delta applies to differentially private runs only; give mode 'strict'/'strictest' or epsilon")
        if not (0 < d < 1):
            raise OptionError(f"delta must be in (0, 1), got {delta!r}")
    else:
        d = DEFAULT_DELTA
    if rows is not None:
        rows = _whole("rows", rows)
        if not (1 <= rows <= MAX_ROWS):
            raise OptionError(f"rows must be between 1 and {MAX_ROWS:,}, got {rows}")
    if seed is not None:
        seed = _whole("seed", seed, allow_float=False)
        if seed < 0:
            raise OptionError(f"seed must be >= 0, got {seed}")
    return Options(mode=name, epsilon=eps, delta=d if eps is not None else 0.0,
                   masks=_masks(masks), rows=rows, seed=seed)


def _whole(name: str, value: Any, *, allow_float: bool = True) -> int:
    """An int from Python or numpy integers (or a float with no fraction, if allowed); never a bool."""
    what = "a whole number" if allow_float else "an integer"
    if isinstance(value, (bool, np.bool_)):
        raise OptionError(f"{name} must be {what}, got {value!r}")
    try:
        return operator.index(value)
    except TypeError:
        pass
    if allow_float and isinstance(value, (float, np.floating)) and float(value).is_integer():
        return int(value)
    raise OptionError(f"{name} must be {what}, got {value!r}")


def _number(name: str, value: Any) -> float:
    if isinstance(value, bool):
        raise OptionError(f"{name} must be a number, got {value!r}")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise OptionError(f"{name} must be a number, got {value!r}") from None


def _masks(masks: dict[str, str] | str | None) -> tuple[tuple[str, str], ...]:
    if masks is None:
        return ()
    if isinstance(masks, str):
        try:
            masks = json.loads(masks)
        except json.JSONDecodeError:
            raise OptionError(f"masks must map column names to kinds, e.g. {{'email': 'email'}}, got {masks!r}") from None
    if not isinstance(masks, dict):
        raise OptionError(f"masks must map column names to kinds, e.g. {{'email': 'email'}}, got {masks!r}")
    out = []
    for col, kind in masks.items():
        if not isinstance(kind, str):
            raise OptionError(f"the mask of column '{col}' must be a kind name (a string), got {kind!r}")
        out.append((str(col), kind.strip().lower()))
    return tuple(out)
