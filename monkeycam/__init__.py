"""monkeycam: real-time puppeteering with Monkey-Net (Siarohin et al., CVPR 2019)."""

__version__ = "0.1.0"
