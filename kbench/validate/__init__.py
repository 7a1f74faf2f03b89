"""Validation suite: the model against theory, upstream tests, CALIBRATION facts and published figures."""
