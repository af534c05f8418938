"""PDF briefings for leadership: build a plain snapshot, then render it with ReportLab."""
