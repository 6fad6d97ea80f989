"""stsmeta: reproducible meta-analysis of intralesional sodium thiosulfate for calcinosis cutis."""

__version__ = "0.1.0"
