"""Calibration: temperature scaling (`scaling`, the math), the `goemox calibrate` job (`calibrate`) and its report."""
