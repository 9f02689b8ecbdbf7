"""The drift statistics Lathe's /api/v2/metrics:drift reports, computed independently by scipy and
by Evidently's own stattest code; run with tests/.venv/bin/python (scripts/setup-test-venv.sh).
Reads {"kind": "numeric"|"categorical", "reference": [...], "current": [...]} on stdin and prints
{"scipy": {...}, "evidently": {...}}."""

import importlib.util
import json
import os
import sys

import pandas as pd
from scipy import stats
from scipy.spatial import distance

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "unit", "data"))
from drift_reference import load_evidently  # noqa: E402


def main():
    job = json.load(sys.stdin)
    # Evidently 0.7.23's package __init__ does not import under pandas 3: run its stattest
    # modules from the installed files.
    spec = importlib.util.find_spec("evidently")
    ev = load_evidently(os.path.dirname(spec.origin))
    ref, cur = job["reference"], job["current"]
    out = {"scipy": {}, "evidently": {}}
    if job["kind"] == "numeric":
        num = ev["ColumnType"].Numerical
        r, c = pd.Series(ref, dtype=float), pd.Series(cur, dtype=float)
        ks = stats.ks_2samp(ref, cur, method="asymp")
        std = max(float(pd.Series(ref).std(ddof=0)), 0.001)
        out["scipy"] = {
            "ks_statistic": float(ks.statistic),
            "ks_p_value": float(ks.pvalue),
            "wasserstein": float(stats.wasserstein_distance(ref, cur)),
            "wasserstein_normed": float(stats.wasserstein_distance(ref, cur)) / std,
        }
        wn, wn_drift = ev["wasserstein_distance_norm"]._wasserstein_distance_norm(r, c, num, 0.1)
        psi, psi_drift = ev["psi"]._psi(r, c, num, 0.1)
        js, js_drift = ev["jensenshannon"]._jensenshannon(r, c, num, 0.1)
        p, ks_drift = ev["ks_stattest"]._ks_stat_test(r, c, num, 0.05)
        out["evidently"] = {
            "wasserstein_normed": float(wn),
            "psi": float(psi),
            "jensen_shannon": float(js),
            "ks_p_value": float(p),
            "drift": {"wasserstein": bool(wn_drift), "psi": bool(psi_drift),
                      "jensen_shannon": bool(js_drift), "ks": bool(ks_drift)},
        }
    else:
        cat = ev["ColumnType"].Categorical
        r, c = pd.Series(ref, dtype=object), pd.Series(cur, dtype=object)
        psi, psi_drift = ev["psi"]._psi(r, c, cat, 0.1)
        js, js_drift = ev["jensenshannon"]._jensenshannon(r, c, cat, 0.1)
        keys = sorted(set(ref) | set(cur))
        rp = [ref.count(k) / len(ref) for k in keys]
        cp = [cur.count(k) / len(cur) for k in keys]
        out["scipy"] = {"jensen_shannon": float(distance.jensenshannon(rp, cp))}
        out["evidently"] = {
            "psi": float(psi),
            "jensen_shannon": float(js),
            "drift": {"psi": bool(psi_drift), "jensen_shannon": bool(js_drift)},
        }
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
