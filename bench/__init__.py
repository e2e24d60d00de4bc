"""The benchmark of the storage design: `python bench/run.py`."""
