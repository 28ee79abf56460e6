"""Colours and type shared by every figure, so the pages look like one app."""

FORWARD = "#f97316"  # the forward direction's scan line; also the label in predictions
BACKWARD = "#06b6d4"  # the backward direction's scan line
ACCENT = "#2563eb"  # the leading class, the main line of a chart
MUTED = "#cbd5e1"  # everything else
FONT = dict(family="Inter, 'Source Sans Pro', Arial, sans-serif", size=13, color="#1f2937")
