"""The monkeycam desktop app (PySide6). Never imports torch: the engine is reached through
:mod:`monkeycam.engine`'s factories, on a worker thread (see :mod:`monkeycam.gui.session`).

Start it with ``python main.py`` or ``monkeycam app``.
"""
