"""The telco churn example (examples/churn-monitoring) end to end against a real server: the model
is deployed, ground truth arrives by uuid, the recurring job records ROC AUC per interval as an
aggregate, and accuracy falls as error is injected, raising the monitor's alert."""

import subprocess
import sys
from pathlib import Path

RUN = Path(__file__).resolve().parents[2] / "examples" / "churn-monitoring" / "run.py"


def test_churn_monitoring_shows_accuracy_falling(lathe):
    user = lathe.create_user("churn")
    done = subprocess.run(
        [sys.executable, str(RUN), "--url", lathe.url, "--api-key", user.key, "--calls", "200"],
        capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    table = [line for line in done.stdout.splitlines() if line.startswith("| ") and "%" in line]
    assert len(table) == 4, done.stdout
    aucs = [float(line.split("|")[4]) for line in table]
    assert aucs == sorted(aucs, reverse=True) and aucs[0] > 0.75 > aucs[-1], done.stdout
    assert "monitor 'ROC AUC': breached" in done.stdout
    assert "alert 1 open" in done.stdout or " open: monitor 'ROC AUC'" in done.stdout
    # The job's own words: every prediction of each interval was joined with its ground truth.
    assert done.stderr.count("200 predictions, 200 with ground truth") == 4, done.stderr
