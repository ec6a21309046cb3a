"""An application built from the environment, for servers that start one per worker process."""

from __future__ import annotations

import os

from fastapi import FastAPI

from fairtel.api import ApiOptions
from fairtel.core.settings import load_settings
from fairtel.web._console import create_console


def from_environment() -> FastAPI:
    rate = float(os.environ.get("FAIRTEL_SERVE_RATE_LIMIT", "50"))
    return create_console(load_settings(), options=ApiOptions(rate_per_second=rate))
