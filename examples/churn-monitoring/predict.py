"""A telco churn model served by Lathe: a logistic regression with fixed coefficients (so the
example needs no training step or third-party packages), tracked with CML's model metrics.

Every call is a prediction with a uuid; the features and the churn probability are tracked with
it, so a monitoring job can later join them with the ground truth."""

import math

import cdsw

# log-odds = INTERCEPT + sum(COEFFICIENTS[name] * value); fitted once on synthetic customers.
INTERCEPT = -1.2
COEFFICIENTS = {"tenure_months": -0.045, "monthly_charges": 0.021, "support_calls": 0.35}
CONTRACT = {"month-to-month": 0.9, "one-year": -0.4, "two-year": -1.3}


@cdsw.model_metrics
def predict(args):
    z = INTERCEPT + CONTRACT.get(args.get("contract"), 0.0)
    for name, weight in COEFFICIENTS.items():
        z += weight * float(args.get(name, 0))
    probability = 1.0 / (1.0 + math.exp(-z))
    for name in COEFFICIENTS:
        cdsw.track_metric(name, float(args.get(name, 0)))
    cdsw.track_metric("contract", args.get("contract", "unknown"))
    cdsw.track_metric("churn_probability", probability)
    return {"churn_probability": round(probability, 4), "churn": probability >= 0.5}
