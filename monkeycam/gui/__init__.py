"""monkeycam gui (see README)."""
