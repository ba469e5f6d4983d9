"""The One Euro filter (Casiez, Roussel, Vogel, CHI 2012): little lag on fast moves, strong
smoothing when still. Smooths the engine's driving keypoints and the face tracker's crop box.
Plain numpy.
"""

from __future__ import annotations

import math

import numpy as np


class OneEuroFilter:
    """The One Euro filter (Casiez, Roussel, Vogel, CHI 2012) on arrays of any fixed shape.

    An exponential smoother whose cut-off frequency rises with the signal's speed:
    ``cutoff = min_cutoff + beta * |filtered derivative|``, per element.

    Args:
        min_cutoff: cut-off frequency (Hz) when the signal is still; lower is smoother.
        beta: how much speed (units per second) raises the cut-off; higher lags less.
        d_cutoff: cut-off frequency (Hz) of the derivative estimate.
    """

    def __init__(self, min_cutoff: float = 1.0, beta: float = 0.0, d_cutoff: float = 1.0) -> None:
        if min_cutoff <= 0 or d_cutoff <= 0 or beta < 0:
            raise ValueError("OneEuroFilter needs min_cutoff > 0, d_cutoff > 0 and beta >= 0")
        self.min_cutoff = min_cutoff
        self.beta = beta
        self.d_cutoff = d_cutoff
        self._value: np.ndarray | None = None
        self._speed: np.ndarray | None = None
        self._time: float | None = None

    def reset(self) -> None:
        """Forget the past: the next value passes through unchanged."""
        self._value = self._speed = self._time = None

    def __call__(self, value: np.ndarray, timestamp: float) -> np.ndarray:
        """Filter ``value`` observed at ``timestamp`` (seconds, increasing) -> same shape."""
        value = np.asarray(value, dtype=np.float64)
        if self._value is None or self._time is None or value.shape != self._value.shape:
            self._value, self._speed, self._time = value.copy(), np.zeros_like(value), timestamp
            return value.copy()
        dt = timestamp - self._time
        if dt <= 0:  # a repeated or out-of-order timestamp: keep the last output
            return self._value.copy()
        speed = (value - self._value) / dt
        self._speed = _smooth(self._speed, speed, _alpha(self.d_cutoff, dt))
        cutoff = self.min_cutoff + self.beta * np.abs(self._speed)
        self._value = _smooth(self._value, value, _alpha(cutoff, dt))
        self._time = timestamp
        return self._value.copy()


def _alpha(cutoff: float | np.ndarray, dt: float) -> float | np.ndarray:
    """Smoothing factor of a first-order low-pass filter at ``cutoff`` Hz for a step ``dt`` s."""
    tau = 1.0 / (2.0 * math.pi * cutoff)
    return 1.0 / (1.0 + tau / dt)


def _smooth(previous: np.ndarray, value: np.ndarray, alpha: float | np.ndarray) -> np.ndarray:
    return alpha * value + (1.0 - alpha) * previous


def one_euro_for_strength(strength: float, beta: float = 4.0) -> OneEuroFilter | None:
    """A One Euro filter for a 0..1 smoothing strength (None for 0: no smoothing).

    The still-signal cut-off goes from 6 Hz (strength near 0, light) to 0.2 Hz (strength 1,
    heavy) on a log scale; ``beta`` keeps fast moves responsive. Tuned for keypoints in
    [-1, 1] crop coordinates; divide pixel signals by a size first.
    """
    strength = float(np.clip(strength, 0.0, 1.0))
    if strength == 0.0:
        return None
    min_cutoff = 6.0 * (0.2 / 6.0) ** strength
    return OneEuroFilter(min_cutoff=min_cutoff, beta=beta, d_cutoff=1.0)
