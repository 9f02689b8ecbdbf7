"""CML's `cml.models_v1`: the model function decorator and model calls.

- `@cml_model` marks a model function and leaves it as it is; `@cml_model(metrics=True)` makes
  each call a tracked prediction, as `cdsw.model_metrics` does (the answer becomes
  `{"prediction": ..., "uuid": ...}`).
- `call_model(model_access_key, ipt, api_key=None)`: calls a deployed model and returns its
  answer envelope.
"""

from lathe.metrics import model_metrics
from lathe.models import call_model

__all__ = ["call_model", "cml_model"]


def cml_model(func=None, metrics=False):
    """`@cml_model`, `@cml_model()` or `@cml_model(metrics=True)` on a model function."""

    def decorate(fn):
        if not callable(fn):
            raise TypeError(
                "cml_model decorates a function: use @cml_model or @cml_model(metrics=True)"
            )
        return model_metrics(fn) if metrics else fn

    if func is None:
        return decorate
    return decorate(func)
