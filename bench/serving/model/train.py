"""Fits the benchmark's model and pickles it: a small scikit-learn LogisticRegression.

Iris-like synthetic data (3 classes, 4 features, 150 rows, fixed seed), so the model is the same on
every run and needs no download. Run it with the benchmark virtualenv's Python (it needs
scikit-learn): bench/.venv/bin/python bench/serving/model/train.py [--out PATH]
"""

import argparse
import pickle
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression

SEED = 20261124
# Per-class feature means, roughly iris's (sepal length and width, petal length and width, in cm).
CENTERS = np.array([[5.0, 3.4, 1.5, 0.2], [5.9, 2.8, 4.3, 1.3], [6.6, 3.0, 5.6, 2.0]])
SPREAD = np.array([0.35, 0.35, 0.4, 0.2])


def training_data():
    rng = np.random.default_rng(SEED)
    x = np.concatenate([center + SPREAD * rng.standard_normal((50, 4)) for center in CENTERS])
    return x, np.repeat(np.arange(3), 50)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--out",
        default=str(Path(__file__).resolve().parent / "model.pkl"),
        help="where to write the pickle; default model.pkl beside this script",
    )
    out = Path(parser.parse_args().out)
    x, y = training_data()
    model = LogisticRegression(max_iter=1000).fit(x, y)
    out.write_bytes(pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL))
    print(f"wrote {out}: 3 classes, training accuracy {model.score(x, y):.2f}")


if __name__ == "__main__":
    main()
