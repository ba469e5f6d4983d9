"""monkeycam engine (see README)."""
