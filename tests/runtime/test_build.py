"""The model worker in build mode: cdsw-build.sh, the import check and .lathe/build.json."""

import json
import re

PREDICT = {"predict.py": "def predict(args):\n    return args\n"}

# What `pip install --user` leaves behind, without needing pip or the network.
FAKE_PIP_INSTALL = """\
set -e
echo "installing lathe-fake-pkg"
site=$(/usr/bin/python3 -c 'import site; print(site.getusersitepackages())')
mkdir -p "$site/lathe_fake_pkg-1.2.3.dist-info"
printf 'Metadata-Version: 2.1\\nName: lathe-fake-pkg\\nVersion: 1.2.3\\n' \\
    > "$site/lathe_fake_pkg-1.2.3.dist-info/METADATA"
echo 'VALUE = 41' > "$site/lathe_fake_pkg.py"
echo "installed"
"""


def test_build_succeeds_and_records_packages(run_build, home):
    result = run_build(
        {
            "cdsw-build.sh": FAKE_PIP_INSTALL,
            "predict.py": "import lathe_fake_pkg\ndef predict(args):\n    return lathe_fake_pkg.VALUE\n",
        }
    )
    log = result.stdout
    assert result.returncode == 0, log
    assert "==> running cdsw-build.sh" in log
    assert "installing lathe-fake-pkg\ninstalled\n" in log  # the script's own output, in order
    assert (
        log.index("==> running cdsw-build.sh")
        < log.index("installed")
        < log.index("==> importing predict.py and checking predict")
    )
    assert log.rstrip().endswith("build succeeded")

    record = json.loads((home / ".lathe" / "build.json").read_text())
    assert re.fullmatch(r"3\.\d+\.\d+", record["python"])
    assert record["interpreter"] == "/usr/bin/python3"
    assert record["file"] == "predict.py" and record["function"] == "predict"
    packages = record["packages"]
    assert {"name": "lathe-fake-pkg", "version": "1.2.3"} in packages
    assert all(set(p) == {"name", "version"} for p in packages)
    keys = [p["name"].lower().replace("_", "-") for p in packages]
    assert keys == sorted(keys) and len(keys) == len(set(keys))


def test_build_without_script(run_build, home):
    result = run_build(PREDICT)
    assert result.returncode == 0, result.stdout
    assert "no cdsw-build.sh" in result.stdout
    assert json.loads((home / ".lathe" / "build.json").read_text())["function"] == "predict"


def test_build_fails_when_script_fails(run_build, home):
    result = run_build({**PREDICT, "cdsw-build.sh": "echo 'pip: no such package' >&2\nexit 3\n"})
    assert result.returncode == 1
    assert "pip: no such package" in result.stdout
    assert "cdsw-build.sh exited with status 3" in result.stdout
    assert "build succeeded" not in result.stdout
    assert not (home / ".lathe" / "build.json").exists()


def test_build_missing_function_shows_traceback(run_build, home):
    result = run_build({"predict.py": "def predictt(args):\n    return args\n"})
    assert result.returncode == 1
    assert "Traceback (most recent call last):" in result.stdout
    assert "build failed: predict.py has no function named 'predict' (it defines: predictt)" in (
        result.stdout
    )
    assert not (home / ".lathe" / "build.json").exists()


def test_build_import_error_shows_user_traceback(run_build):
    result = run_build(
        {"model.py": "x = 1\nraise RuntimeError('weights file missing')\n"}, file="model.py"
    )
    assert result.returncode == 1
    assert 'model.py", line 2, in <module>' in result.stdout
    assert "RuntimeError: weights file missing" in result.stdout
    assert "build failed: importing the model raised RuntimeError: weights file missing" in (
        result.stdout
    )


def test_build_without_settings_fails_clearly(run_build):
    result = run_build(PREDICT, env={"LATHE_MODEL_FUNCTION": ""})
    assert result.returncode == 1
    assert "LATHE_MODEL_FUNCTION is not set" in result.stdout
