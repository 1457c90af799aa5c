"""The known-wrong answers of every lesson, one data module per lesson (see grading/catalogue.py)."""
