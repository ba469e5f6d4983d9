"""Reading and writing media: images, video files (cameras and virtual cameras live in the engine's I/O)."""

from .media import MediaError, VideoInfo, VideoWriter, iter_video, probe_video, read_image, read_video, write_image

__all__ = ["MediaError", "VideoInfo", "VideoWriter", "iter_video", "probe_video", "read_image", "read_video", "write_image"]
