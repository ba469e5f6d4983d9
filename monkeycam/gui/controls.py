"""The settings panel: controls for the :class:`EngineSettings` fields the window offers (motion,
output, model and backend) and the keypoint overlay switch; the other fields (covariance
adaptation, crop scale, threads) keep their saved values."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QRadioButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from ..live.api import BACKEND_NAMES, FPS_CAPS, FRAME_SIZES, MAX_STRENGTH, EngineSettings
from .settings import OUTPUT_SIZES

SMOOTHING_STEPS = 100
STRENGTH_STEPS = 100  # slider steps per 1.0 of pose / expression strength
RELATIVE_HINT = "Keeps the portrait's own face and copies how you move."
ABSOLUTE_HINT = ("Reshapes the portrait into the driving face: its eyes, nose and mouth go where yours are, "
                 "so it may stop looking like itself.")


def _strength_slider(parent: QWidget, tooltip: str) -> QSlider:
    slider = QSlider(Qt.Orientation.Horizontal, parent)
    slider.setRange(0, round(MAX_STRENGTH * STRENGTH_STEPS))
    slider.setPageStep(STRENGTH_STEPS // 4)
    slider.setToolTip(tooltip)
    return slider


def _index_of(combo: QComboBox, value: object) -> int:
    """The index of the item whose data equals ``value``; -1 (nothing chosen) for None or a value
    not offered. (findData does not compare Python tuples.)"""
    items = [combo.itemData(index) for index in range(combo.count())]
    return items.index(value) if value is not None and value in items else -1


class ControlsPanel(QWidget):
    """Edits an :class:`EngineSettings`, the one copy the window uses while it is open (its
    saved state takes it from here); every change emits the whole new settings object.

    Signals:
        settings_changed(new, previous): a control changed the settings (both EngineSettings;
            ``new.needs_reload(previous)`` says whether the model must be loaded again).
        show_keypoints_changed(bool): the overlay switch changed.
        choose_checkpoint_requested(): the user wants to pick a checkpoint file.
    """

    settings_changed = Signal(object, object)
    show_keypoints_changed = Signal(bool)
    choose_checkpoint_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._settings = EngineSettings()
        self._updating = False
        layout = QVBoxLayout(self)
        layout.addWidget(self._build_motion_group())
        layout.addWidget(self._build_output_group())
        layout.addWidget(self._build_model_group())
        layout.addStretch(1)
        self._connect()

    # ------------------------------------------------------------------ building

    def _build_motion_group(self) -> QGroupBox:
        group = QGroupBox("Motion", self)
        self.relative_button = QRadioButton("Relative", group)
        self.relative_button.setToolTip(RELATIVE_HINT + " Reset reference (R) makes your current pose the neutral one.")
        self.absolute_button = QRadioButton("Absolute", group)
        self.absolute_button.setToolTip(ABSOLUTE_HINT)
        self.mode_hint = QLabel(group)  # what the chosen mode does to the portrait, next to the switch
        self.mode_hint.setObjectName("transfer_hint")
        self.mode_hint.setWordWrap(True)
        self.mode_hint.setStyleSheet("color: gray;")
        self._mode_group = QButtonGroup(self)
        self._mode_group.addButton(self.relative_button)
        self._mode_group.addButton(self.absolute_button)
        mode_row = QHBoxLayout()
        mode_row.addWidget(self.relative_button)
        mode_row.addWidget(self.absolute_button)
        self.adapt_scale_box = QCheckBox("Adapt movement scale", group)
        self.adapt_scale_box.setToolTip("Scale your motion to the portrait's face size")
        self.mirror_box = QCheckBox("Mirror the driving input", group)
        self.smoothing_slider = QSlider(Qt.Orientation.Horizontal, group)
        self.smoothing_slider.setRange(0, SMOOTHING_STEPS)
        self.smoothing_slider.setToolTip("Steadies a shaky animation: left off, right strong (a little more delay)")
        self.smoothing_label = QLabel(group)
        self.pose_slider = _strength_slider(group, "How much of your head's turning, tilting and moving the portrait "
                                            "copies: left the head stays put, middle as you move, right exaggerated")
        self.pose_label = QLabel(group)
        self.expression_slider = _strength_slider(group, "How much of your eyes' and mouth's movement the portrait "
                                                  "copies: left a neutral face, middle as you do, right exaggerated")
        self.expression_label = QLabel(group)
        form = QFormLayout(group)
        form.addRow("Transfer", mode_row)
        form.addRow(self.mode_hint)
        form.addRow(self.adapt_scale_box)
        form.addRow(self.mirror_box)
        smoothing_row = QHBoxLayout()
        smoothing_row.addWidget(self.smoothing_slider, 1)
        smoothing_row.addWidget(self.smoothing_label)
        form.addRow("Smoothing", smoothing_row)
        for title, slider, label in (("Head motion", self.pose_slider, self.pose_label),
                                     ("Expression", self.expression_slider, self.expression_label)):
            label.setMinimumWidth(label.fontMetrics().horizontalAdvance("200%"))
            row = QHBoxLayout()
            row.addWidget(slider, 1)
            row.addWidget(label)
            form.addRow(title, row)
        return group

    def _build_output_group(self) -> QGroupBox:
        group = QGroupBox("Output", self)
        self.frame_combo = QComboBox(group)
        for width, height in FRAME_SIZES:
            self.frame_combo.addItem(f"{width} x {height}", (width, height))
        self.frame_combo.setToolTip("The picture the video call (and a recording) receives; the portrait fills it "
                                    "like a webcam picture")
        self.fps_combo = QComboBox(group)
        for fps in FPS_CAPS:
            self.fps_combo.addItem(f"{fps} fps", fps)
        self.fps_combo.setToolTip("The most frames a second the call gets: 15 or 24 leave more of a slow computer "
                                  "for the call itself")
        # the square output size: used only when no call picture size is set (older settings)
        self.size_combo = QComboBox(group)
        for size in OUTPUT_SIZES:
            self.size_combo.addItem(f"{size} x {size}", size)
        self.size_combo.setToolTip("Size of the square output picture")
        self.paste_back_box = QCheckBox("Whole portrait (face pasted back)", group)
        self.paste_back_box.setToolTip("On: the call sees the whole portrait with the animated face blended in. "
                                       "Off: a close-up of the face alone")
        self.keypoints_box = QCheckBox("Show the tracked points", group)
        self.keypoints_box.setToolTip("Draw over the animated picture the points the model moves (dots) and the "
                                      "area each one pulls along (outlines)")
        picture_row = QHBoxLayout()  # one row: the window must still fit a 1024x600 screen
        for combo in (self.frame_combo, self.size_combo, self.fps_combo):
            picture_row.addWidget(combo)
        form = QFormLayout(group)
        form.addRow("Call picture", picture_row)
        form.addRow(self.paste_back_box)
        form.addRow(self.keypoints_box)
        return group

    def _build_model_group(self) -> QGroupBox:
        group = QGroupBox("Model", self)
        self.checkpoint_label = QLabel(group)
        self.checkpoint_label.setWordWrap(True)
        self.choose_checkpoint_button = QPushButton("Choose checkpoint...", group)
        self.default_checkpoint_button = QPushButton("Use default", group)
        self.backend_combo = QComboBox(group)
        for name in BACKEND_NAMES:
            self.backend_combo.addItem(name, name)
        self.backend_label = QLabel("in use: (not loaded yet)", group)
        self.backend_label.setObjectName("backend_in_use")
        self.backend_label.setWordWrap(True)
        buttons = QHBoxLayout()
        buttons.addWidget(self.choose_checkpoint_button)
        buttons.addWidget(self.default_checkpoint_button)
        form = QFormLayout(group)
        form.addRow("Checkpoint", self.checkpoint_label)
        form.addRow(buttons)
        form.addRow("Backend", self.backend_combo)
        form.addRow(self.backend_label)
        return group

    def _connect(self) -> None:
        for box in (self.adapt_scale_box, self.mirror_box, self.paste_back_box, self.relative_button):
            box.toggled.connect(self._emit_settings)
        for slider in (self.smoothing_slider, self.pose_slider, self.expression_slider):
            slider.valueChanged.connect(self._emit_settings)
        for combo in (self.size_combo, self.frame_combo, self.fps_combo):
            combo.currentIndexChanged.connect(self._emit_settings)
        self.backend_combo.currentIndexChanged.connect(self._emit_settings)
        self.keypoints_box.toggled.connect(self.show_keypoints_changed)
        self.choose_checkpoint_button.clicked.connect(self.choose_checkpoint_requested)
        self.default_checkpoint_button.clicked.connect(lambda: self.set_checkpoint(None))

    # ------------------------------------------------------------------ state

    def settings(self) -> EngineSettings:
        """The settings the controls show."""
        return self._settings

    def set_settings(self, settings: EngineSettings) -> None:
        """Show ``settings`` without emitting :attr:`settings_changed`."""
        self._updating = True
        self._settings = settings
        self.relative_button.setChecked(settings.relative)
        self.absolute_button.setChecked(not settings.relative)
        self.adapt_scale_box.setChecked(settings.adapt_scale)
        self.mirror_box.setChecked(settings.mirror)
        self.smoothing_slider.setValue(round(settings.smoothing * SMOOTHING_STEPS))
        self.pose_slider.setValue(round(settings.pose_strength * STRENGTH_STEPS))
        self.expression_slider.setValue(round(settings.expression_strength * STRENGTH_STEPS))
        self.paste_back_box.setChecked(settings.paste_back)
        self.size_combo.setCurrentIndex(max(0, self.size_combo.findData(settings.output_size)))
        # no call frame size or cap (older settings): nothing chosen until the user picks one
        self.frame_combo.setCurrentIndex(_index_of(self.frame_combo, settings.frame_size))
        self.fps_combo.setCurrentIndex(_index_of(self.fps_combo, settings.fps_cap))
        self.size_combo.setVisible(settings.frame_size is None)
        self.backend_combo.setCurrentIndex(max(0, self.backend_combo.findData(settings.backend)))
        self._show_checkpoint(settings.checkpoint)
        self._show_smoothing(settings.smoothing)
        self._show_strengths(settings)
        self._show_mode(settings.relative)
        self._updating = False

    def set_show_keypoints(self, enabled: bool) -> None:
        """Set the overlay switch without emitting."""
        self.keypoints_box.blockSignals(True)
        self.keypoints_box.setChecked(enabled)
        self.keypoints_box.blockSignals(False)

    def set_checkpoint(self, path: str | None) -> None:
        """Use the checkpoint file ``path`` (None: the shipped default) and emit the change."""
        previous, self._settings = self._settings, self._settings.updated(checkpoint=path)
        self._show_checkpoint(path)
        self.settings_changed.emit(self._settings, previous)

    def show_backend_in_use(self, text: str, reason: str = "") -> None:
        """Say which backend runs the model; the first part of ``reason`` is shown under it,
        all of it in the tooltip."""
        summary = reason.split(";")[0].strip()
        self.backend_label.setText(f"{text}\n{summary}" if summary else text)
        self.backend_label.setToolTip(reason)

    def _show_checkpoint(self, path: str | None) -> None:
        self.checkpoint_label.setText(Path(path).name if path else "default (shipped model)")
        self.checkpoint_label.setToolTip(path or "")

    def _show_smoothing(self, value: float) -> None:
        self.smoothing_label.setText("off" if value == 0 else f"{value:.2f}")

    def _show_mode(self, relative: bool) -> None:
        self.mode_hint.setText(RELATIVE_HINT if relative else ABSOLUTE_HINT)

    def _show_strengths(self, settings: EngineSettings) -> None:
        self.pose_label.setText(f"{settings.pose_strength:.0%}")
        self.expression_label.setText(f"{settings.expression_strength:.0%}")

    def _emit_settings(self) -> None:
        if self._updating:
            return
        smoothing = self.smoothing_slider.value() / SMOOTHING_STEPS
        previous, self._settings = self._settings, self._settings.updated(
            relative=self.relative_button.isChecked(),
            adapt_scale=self.adapt_scale_box.isChecked(),
            mirror=self.mirror_box.isChecked(),
            smoothing=smoothing,
            paste_back=self.paste_back_box.isChecked(),
            output_size=int(self.size_combo.currentData()),
            frame_size=self.frame_combo.currentData(),
            fps_cap=self.fps_combo.currentData(),
            backend=str(self.backend_combo.currentData()),
            pose_strength=self.pose_slider.value() / STRENGTH_STEPS,
            expression_strength=self.expression_slider.value() / STRENGTH_STEPS,
        )
        self._show_smoothing(smoothing)
        self._show_strengths(self._settings)
        self._show_mode(self._settings.relative)
        self.size_combo.setVisible(self._settings.frame_size is None)
        self.settings_changed.emit(self._settings, previous)
