"""The environment doctor: `ndgrad doctor` checks a deep-learning set-up and prints fixes;
`ndgrad doctor explain` turns an error message into its cause and cure.

Layout: rules.py (data tables with sources), parsers.py (tool output -> facts), probes.py
(gather facts with timeouts), checks.py (facts + rules -> findings), explain.py (error
messages), render.py (table / JSON), cli.py (Typer app)."""
