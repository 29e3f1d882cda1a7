"""Studies over many runs: benchmark suites, intermediate-task studies, typology.

- :mod:`~xling.studies.suites`: the XTREME / XTREME-R suite declarations and their tables;
- :mod:`~xling.studies.suite_runner`: ``xling suite`` (alias ``benchmark``) runs a suite's tasks for a model;
- :mod:`~xling.studies.intermediate`: ``xling study`` (diversity / multilingual intermediate-task studies);
- :mod:`~xling.studies.typology`: URIEL distances and gains against distance (``xling typology``).
"""
