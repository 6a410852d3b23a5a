"""The fault suite's summary line is printed by ``tests/conftest.py`` (it must also work when
pytest-xdist runs the suite in a worker process and the controller prints the summary)."""
