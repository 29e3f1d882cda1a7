"""Reports built from results files: paired gains against a baseline, figures, and the HTML page."""
