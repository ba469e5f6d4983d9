"""The built-in head-movement trajectory (scripted motion: animation without any camera).

A smooth, looping mix of slow sinusoids with incommensurate periods, so it does not look
mechanical: the head turns left/right and nods (as shifts of the face), tilts (roll),
comes a little closer and goes back (scale), and opens its mouth now and then.
"""

from __future__ import annotations

import math

from .api import HeadPose

LOOP_SECONDS = 24.0  # every component below repeats within this period


def scripted_pose(seconds: float) -> HeadPose:
    """The head pose at ``seconds`` into the trajectory (periodic, continuous, starts at rest)."""
    phase = 2.0 * math.pi * (seconds % LOOP_SECONDS) / LOOP_SECONDS
    yaw = 0.08 * math.sin(3 * phase) + 0.02 * math.sin(8 * phase)
    pitch = 0.04 * math.sin(4 * phase) * math.sin(phase)
    roll = 0.12 * math.sin(2 * phase) * math.sin(3 * phase)
    scale = 1.0 + 0.04 * math.sin(phase) * math.sin(5 * phase)
    mouth = max(0.0, math.sin(6 * phase)) ** 2 * (0.5 + 0.5 * math.sin(phase))
    return HeadPose(yaw=yaw, pitch=pitch, roll=roll, scale=scale, mouth=mouth)
