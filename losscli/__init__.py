"""losscli: audit the choice of loss function as the choice of a noise model.

The Python API (imported on first use, so that the command line starts fast):
`losscli.evaluate(data, ...)`, `losscli.compare_noise_models(data, ...)`,
`losscli.diagnose(data, ...)` and `losscli.families()`; the first three return a
`Report`; errors raise `InputError` or `UsageError`, and a `fail_if` condition that
holds raises `GateFailed`, which carries the report.
"""

from losscli.errors import GateFailed, InputError, UsageError

__version__ = "0.1.0"
__all__ = ["GateFailed", "InputError", "Report", "UsageError", "compare_noise_models", "diagnose",
           "evaluate", "families"]
_API = ("evaluate", "compare_noise_models", "diagnose", "families", "Report")


def __getattr__(name: str):
    if name in _API:
        from losscli import library

        return getattr(library, name)
    raise AttributeError(f"module 'losscli' has no attribute {name!r}")


def __dir__() -> list[str]:
    # the API's names too, for completion in notebooks and shells
    return sorted(set(globals()) | set(__all__))
