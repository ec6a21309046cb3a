"""The country codes a roaming zone may list: core's set (``fairtel.core.countries``), which mediation checks
usage records against too."""

from fairtel.core.countries import COUNTRIES

__all__ = ["COUNTRIES"]
