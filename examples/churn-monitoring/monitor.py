"""The recurring monitoring job: reads the predictions made since its last run, joins them with
their ground truth (delayed metrics, merged by uuid), computes ROC AUC, accuracy, precision and
recall, and records them as an aggregate over that interval — Cloudera's telco churn pattern.

Runs in a Lathe job with MODEL_DEPLOYMENT_CRN set; `import cdsw` works as it does in CML."""

import os
import time

import cdsw
import lathe

crn = os.environ["MODEL_DEPLOYMENT_CRN"]
now = int(time.time() * 1000)
everything = cdsw.read_metrics(model_deployment_crn=crn, start_timestamp_ms=0, end_timestamp_ms=now)
records = everything["metrics"]

# The interval starts where the last run's aggregate ended.
previous = [r["endTimeStampMs"] for r in records if r.get("aggregate") and "roc_auc" in r["metrics"]]
start = max(previous) + 1 if previous else 0
window = [r for r in records if not r.get("aggregate") and start <= r["startTimeStampMs"] <= now]

stats = lathe.evaluate(window, label="final_label", prediction="churn_probability")
print(
    "interval %d..%d: %d predictions, %d with ground truth"
    % (start, now, len(window), stats["count"])
)
if stats["count"] == 0:
    print("nothing to evaluate yet")
else:
    tracked = {k: stats[k] for k in ("roc_auc", "accuracy", "precision", "recall", "count")}
    cdsw.track_aggregate_metrics(tracked, start, now, model_deployment_crn=crn)
    print("tracked " + ", ".join("%s=%s" % (k, v) for k, v in sorted(tracked.items())))
