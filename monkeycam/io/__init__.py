"""Reading and writing media: images, video files, cameras and virtual cameras."""

from .camera import Camera, CameraError, CameraLost, describe_cameras, list_cameras
from .media import MediaError, VideoInfo, VideoWriter, iter_video, probe_video, read_image, read_video, write_image
from .virtual_camera import VirtualCamera, VirtualCameraUnavailable, fit_frame, setup_help

__all__ = [
    "Camera",
    "CameraError",
    "CameraLost",
    "MediaError",
    "VideoInfo",
    "VideoWriter",
    "VirtualCamera",
    "VirtualCameraUnavailable",
    "describe_cameras",
    "fit_frame",
    "iter_video",
    "list_cameras",
    "probe_video",
    "read_image",
    "read_video",
    "setup_help",
    "write_image",
]
