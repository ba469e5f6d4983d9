"""Training and evaluating Monkey-Net on folders of videos (reached through the monkeycam command)."""
