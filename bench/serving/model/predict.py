"""The model functions every stack in the benchmark serves, CML style.

A function takes the request's parsed JSON (here a dict) and returns something JSON can encode:

- predict({"x": [[5.1, 3.5, 1.4, 0.2], ...]}) -> {"y": [0, ...]}: the LogisticRegression's classes
- echo(args) -> args, unchanged: what a stack costs with (almost) nothing inside the function
- predict_metrics: predict with CML's model metrics on (`@cdsw.model_metrics`, and one
  `cdsw.track_metric` per call). Defined only where the `cdsw` module exists (in Lathe's model
  runtime); the peers have no such module and serve predict and echo only.

model.pkl (written by train.py) is read from the directory this file is in, once, at import.
"""

import pickle
from pathlib import Path

import numpy as np

with open(Path(__file__).resolve().parent / "model.pkl", "rb") as _f:
    MODEL = pickle.load(_f)


def predict(args):
    return {"y": MODEL.predict(np.asarray(args["x"], dtype=np.float64)).tolist()}


def echo(args):
    return args


try:
    import cdsw
except ImportError:
    cdsw = None

if cdsw is not None:

    @cdsw.model_metrics
    def predict_metrics(args):
        cdsw.track_metric("input_len", len(args["x"]))
        return predict(args)
