"""SYNTHETIC analysis plans for the report's unit tests (no shipped data)."""

from __future__ import annotations


def two_outcome_plan(methods: dict) -> dict:
    """A plan of two outcomes (complete remission primary, any response secondary), the primary
    scenario alone, and ``methods`` (the config's ``methods`` block)."""
    return {
        "confidence_level": 0.95,
        "outcomes": {
            "complete_remission": {"role": "primary", "label": "Complete remission"},
            "any_response": {"role": "secondary", "label": "Any response"},
        },
        "scenarios": {"primary": {"label": "Primary analysis"}},
        "methods": methods,
    }
