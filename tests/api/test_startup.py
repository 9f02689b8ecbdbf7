"""Start-up checks: the first admin, config errors, and refusing to run without the key file."""

import subprocess

from conftest import create_project, lathe_binary, start_server


def run_server(data_dir, *args, env=None):
    """Runs `lathe server` expecting it to exit by itself (a refusal); returns (code, output)."""
    proc = subprocess.run(
        [str(lathe_binary()), "server", "--data-dir", str(data_dir), "--port", "0", *args],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=30,
    )
    return proc.returncode, proc.stdout + proc.stderr


def test_missing_key_file_with_stored_secrets_refuses_to_start(tmp_path):
    server = start_server(tmp_path / "data")
    project = create_project(server.admin)
    reply = server.admin.put(f"/api/v2/projects/{project['id']}/env/TOKEN", {"value": "s3cret"})
    assert reply.status == 200, reply
    assert server.stop() == 0
    (tmp_path / "data" / "secret.key").unlink()

    code, output = run_server(tmp_path / "data")
    assert code != 0
    assert "secret.key is missing" in output
    assert not (tmp_path / "data" / "secret.key").exists(), "a new key must not be made"


def test_missing_key_file_without_secrets_is_recreated(tmp_path):
    server = start_server(tmp_path / "data")
    assert server.stop() == 0
    (tmp_path / "data" / "secret.key").unlink()
    server = start_server(tmp_path / "data")
    key = tmp_path / "data" / "secret.key"
    assert key.exists() and (key.stat().st_mode & 0o777) == 0o600
    assert server.stop() == 0


def test_unknown_setting_and_bad_value_are_refused_with_the_reason(tmp_path):
    code, output = run_server(tmp_path / "a", "--no-such-setting", "1")
    assert code != 0 and "unknown flag --no-such-setting" in output
    code, output = run_server(tmp_path / "b", "--max-body-bytes", "lots")
    assert code != 0 and "max_body_bytes" in output and "not a whole number" in output
    config = tmp_path / "lathe.yaml"
    config.write_text("port: [1, 2]\n")
    code, output = run_server(tmp_path / "c", "--config", str(config))
    assert code != 0 and "port must be a value" in output


def test_generated_admin_password_is_printed_once_and_works(tmp_path):
    # An empty LATHE_ADMIN_PASSWORD means "generate one".
    server = start_server(tmp_path / "data", env={"LATHE_ADMIN_PASSWORD": ""})
    assert "password:" in server.output
    password = next(
        line.split("password:", 1)[1].strip() for line in server.lines if "password:" in line
    )
    assert server.client().login("admin", password).status == 200
    assert server.stop() == 0
    server = start_server(tmp_path / "data", env={"LATHE_ADMIN_PASSWORD": ""})
    assert "password:" not in server.output
    assert server.stop() == 0
