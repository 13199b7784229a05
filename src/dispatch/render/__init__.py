"""Rendering: Jinja2 templates to email (MJML → HTML, plus text) and to feeds."""
