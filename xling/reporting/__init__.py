"""Reporting: the results schema and what is built from results files (never from logs).

- :mod:`~xling.reporting.results`: ``results.json`` (:class:`Results`, :class:`LanguageScore`, averages,
  provenance);
- :mod:`~xling.reporting.tables`: languages x experiments tables, mean ± std over seeds (``xling report``);
- :mod:`~xling.reporting.gains`: paired gains against a baseline column, with confidence intervals;
- :mod:`~xling.reporting.plots` and :mod:`~xling.reporting.figures`: the per-language plot, the heat map and
  the layer plot;
- :mod:`~xling.reporting.html`: the self-contained HTML report (:mod:`~xling.reporting.provenance` feeds it).
"""
