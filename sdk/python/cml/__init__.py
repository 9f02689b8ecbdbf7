"""CML's `cml` library for code running in Lathe: `cml.metrics_v1` and `cml.models_v1`.

Both map to the `lathe` package, so code written for CML's runtimes runs unchanged. There is no
`cml.workers_v1`: CML's workers are started from an interactive session, and Lathe has no
interactive sessions yet.
"""
