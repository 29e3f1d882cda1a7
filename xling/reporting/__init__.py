"""Reporting: the results schema and what is built from results files (never from logs).

- :mod:`~xling.reporting.results`: ``results.json`` (:class:`Results`, :class:`LanguageScore`, averages,
  provenance);
- :mod:`~xling.reporting.tables`: languages x experiments tables, mean ± std over seeds (``xling report``);
- :mod:`~xling.reporting.plots`: the per-language plot.
"""
