"""web: the console, server-rendered (Jinja2), zh/en, with every asset served from the package (works offline).

Owns: the pages for each role (dashboard with SVG charts, findings queue, complaint desk, ticket queue with the
conversation a hand-off carries, customer view, retention list, fraud cases, access audit; for subscribers their
bill with “why this charge”, subscriptions, roaming cap and assistant), the session cookie and form tokens. Does
not own: access rules and audit (api/, called through ``fairtel.api.ops`` and ``fairtel.api._tickets``), or any
data.
"""

from fairtel.web._console import create_console

__all__ = ["create_console"]
