"""Helpers the notebook tests share (not a test module: pytest collects only test_*.py)."""


def all_strings(obj):
    """Every string anywhere in a JSON structure (sources, outputs, metadata, keys)."""
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield k
            yield from all_strings(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from all_strings(v)
