"""The monkeycam desktop app (PySide6). Never imports torch: it uses the torch-free
:mod:`monkeycam.live` layer, and reaches :mod:`monkeycam.engine` only through the session's
factories, on a worker thread (see :mod:`monkeycam.gui.session`).

Start it with ``python main.py`` or ``monkeycam app``.
"""
