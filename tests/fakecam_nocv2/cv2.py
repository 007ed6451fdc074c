"""Shadows OpenCV for tests that prove a code path runs without it (PYTHONPATH first)."""

raise ImportError("No module named 'cv2' (hidden by tests/fakecam_nocv2)")
