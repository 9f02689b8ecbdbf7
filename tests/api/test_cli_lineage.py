"""End-to-end tests of the governance commands of `lathe`: `model rebuild --verify`, `model alias`,
`model examples`, `lineage show|search|export` and `catalog`, against a real `lathe server` that
builds and serves one model for the whole module."""

import json
import re
from types import SimpleNamespace

import pytest

# The server, the CLI runner and the login are test_cli.py's, as in test_cli_models.py.
from test_cli import CliServer, login, run_cli, unique

PREDICT = """\
def predict(args):
    return {"echo": args}
"""

SMALL = ("--cpu", "0.5", "--memory", "0.5")


# ----------------------------------------------------------------------------------------------
# Fixtures and helpers


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("cli-lineage-server-data")


@pytest.fixture(scope="module")
def server(data_dir):
    srv = CliServer(data_dir)
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def admin_dir(server, tmp_path_factory):
    config_dir = tmp_path_factory.mktemp("cli-lineage-admin")
    result = login(server, config_dir)
    assert result.code == 0, result
    return config_dir


def cli(admin_dir, *args, **kw):
    return run_cli(admin_dir, *args, **kw)


def make_project(admin_dir, tmp_path_factory, files):
    """A project holding `files` ({path: text}); returns its id (a string) and name."""
    name = unique("gov")
    created = cli(admin_dir, "project", "create", name, "--json")
    assert created.code == 0, created
    project = SimpleNamespace(id=str(created.json()["id"]), name=name)
    put_files(admin_dir, tmp_path_factory, project, files)
    return project


def put_files(admin_dir, tmp_path_factory, project, files):
    local = tmp_path_factory.mktemp("cli-lineage-files")
    for path, text in files.items():
        source = local / path.replace("/", "_")
        source.write_text(text)
        put = cli(admin_dir, "files", "put", project.id, source, path)
        assert put.code == 0, put


def model(admin_dir, project, *args, **kw):
    """`lathe model ARGS... --project ID`."""
    return cli(admin_dir, "model", *args, "--project", project.id, **kw)


@pytest.fixture(scope="module")
def gov(admin_dir, tmp_path_factory):
    """One model, declared in lineage.yaml as trained on data/churn.csv, built and deployed with
    one small replica: shared by every test that needs a model."""
    name = unique("churn")
    lineage_yaml = f'"{name}":\n  datasets: ["data/churn.csv"]\n'
    project = make_project(
        admin_dir,
        tmp_path_factory,
        {
            "predict.py": PREDICT,
            "lineage.yaml": lineage_yaml,
            "data/churn.csv": "tenure,churn\n1,0\n",
            "notes.txt": "first notes\n",
        },
    )
    created = model(admin_dir, project, "create", name, "--no-auth")
    assert created.code == 0, created
    built = model(admin_dir, project, "build", name, "--file", "predict.py", "--function",
                  "predict", "--wait")
    assert built.code == 0, built
    deployed = model(admin_dir, project, "deploy", name, *SMALL, "--wait")
    assert deployed.code == 0, deployed
    [deployment] = model(admin_dir, project, "deployments", name, "--json").json()["deployments"]
    shown = model(admin_dir, project, "show", name, "--json").json()
    return SimpleNamespace(
        name=name,
        project=project,
        build_id=built.out.strip(),
        deployment_id=deployed.out.strip(),
        deployment_crn=deployment["crn"],
        model_crn=shown["crn"],
    )


# ----------------------------------------------------------------------------------------------
# model rebuild --verify


def test_rebuild_verify_reports_reproduced_then_a_project_change(
    admin_dir, tmp_path_factory, gov
):
    rebuilt = model(admin_dir, gov.project, "rebuild", gov.name, gov.build_id, "--verify")
    assert rebuilt.code == 0, rebuilt
    # The log streams on stderr as with `build --wait`; the report is stdout.
    assert f"a rebuild of {gov.build_id} of model {gov.name}" in rebuilt.err, rebuilt
    assert "build succeeded" in rebuilt.err, rebuilt
    assert re.search(r"^Reproduced:\s+yes$", rebuilt.out, re.M), rebuilt
    assert re.search(rf"^Build:\s+{gov.build_id}$", rebuilt.out, re.M), rebuilt
    assert re.search(r"^Rebuild:\s+\d+ \(built\)$", rebuilt.out, re.M), rebuilt
    assert re.search(r"^Snapshot:\s+[0-9a-f]{12}, intact$", rebuilt.out, re.M), rebuilt
    assert "Differences: none" in rebuilt.out, rebuilt
    assert f"Project files since build {gov.build_id}: unchanged" in rebuilt.out, rebuilt

    # The project moves on: the rebuild still reproduces (it uses the build's own snapshot) and
    # the report says what changed since.
    put_files(admin_dir, tmp_path_factory, gov.project,
              {"notes.txt": "second notes\n", "extra.txt": "x"})
    again = model(admin_dir, gov.project, "rebuild", gov.name, gov.build_id, "--verify")
    assert again.code == 0, again
    assert re.search(r"^Reproduced:\s+yes$", again.out, re.M), again
    assert f"Project files since build {gov.build_id}: 1 changed, 1 added, 0 removed" in \
        again.out, again
    assert re.search(r"^  changed  notes\.txt$", again.out, re.M), again
    assert re.search(r"^  added    extra\.txt$", again.out, re.M), again

    as_json = model(admin_dir, gov.project, "rebuild", gov.name, gov.build_id, "--verify",
                    "--json")
    assert as_json.code == 0, as_json
    v = as_json.json()
    assert v["reproduced"] is True and v["snapshot_intact"] is True, v
    assert v["rebuild_of"] == int(gov.build_id)
    assert v["project_changes"]["changed"] == ["notes.txt"]

    # Builds list their versions, and which build a rebuild repeats.
    builds = model(admin_dir, gov.project, "builds", gov.name)
    assert builds.code == 0, builds
    assert builds.out.split("\n")[0].split()[:3] == ["ID", "VERSION", "STATE"], builds
    assert re.search(rf"^{v['build_id']}\s+\d+ \(rebuild of {gov.build_id}\)\s+built", builds.out,
                     re.M), builds
    assert re.search(rf"^{gov.build_id}\s+1\s+built", builds.out, re.M), builds


def test_rebuild_without_verify_prints_the_id(admin_dir, gov):
    started = model(admin_dir, gov.project, "rebuild", gov.name, gov.build_id, "--wait")
    assert started.code == 0, started
    rebuild_id = started.out.strip()
    assert rebuild_id.isdigit() and rebuild_id != gov.build_id, started
    assert re.search(rf"^Build {rebuild_id} of model {gov.name} built in [\d.]+s\.$", started.err,
                     re.M), started


def test_rebuild_verify_lists_differences_and_exits_1(admin_dir, tmp_path_factory):
    """A build script whose output changes every time: the rebuild cannot reproduce it."""
    project = make_project(
        admin_dir,
        tmp_path_factory,
        {"predict.py": PREDICT, "cdsw-build.sh": "head -c 16 /dev/urandom | od -An -tx1\n"},
    )
    name = unique("random")
    assert model(admin_dir, project, "create", name).code == 0
    built = model(admin_dir, project, "build", name, "--file", "predict.py", "--function",
                  "predict", "--wait")
    assert built.code == 0, built
    build_id = built.out.strip()
    verified = model(admin_dir, project, "rebuild", name, build_id, "--verify")
    assert verified.code == 1, verified
    assert re.search(r"^Reproduced:\s+no$", verified.out, re.M), verified
    assert "\nDifferences (1):\n" in verified.out, verified
    assert re.search(r"^  build_script_output_sha256\s+[0-9a-f]{64} -> [0-9a-f]{64}$",
                     verified.out, re.M), verified
    assert re.search(r"^error: build \d+ does not reproduce build " + build_id +
                     ": the rebuild differs$", verified.err, re.M), verified


def test_rebuild_verify_of_a_corrupted_snapshot_exits_1(admin_dir, data_dir, tmp_path_factory):
    """Its own project, so the tampered file's blob is no other build's."""
    secret = unique("kept") + "\n"
    project = make_project(admin_dir, tmp_path_factory,
                           {"predict.py": PREDICT, "kept.txt": secret})
    name = unique("tamper")
    assert model(admin_dir, project, "create", name).code == 0
    built = model(admin_dir, project, "build", name, "--file", "predict.py", "--function",
                  "predict", "--wait", "--json")
    assert built.code == 0, built
    snapshot = built.json()["snapshot"]
    manifest = json.loads((data_dir / "snapshots" / "manifests" / f"{snapshot}.json").read_text())
    entry = next(f for f in manifest["files"] if f["path"] == "kept.txt")
    blob = data_dir / "snapshots" / "blobs" / entry["blob"][:2] / entry["blob"][2:]
    blob.chmod(0o644)
    blob.write_text(secret.upper())

    verified = model(admin_dir, project, "rebuild", name, str(built.json()["id"]), "--verify")
    # Whatever the rebuild made of the altered file, a corrupted snapshot is a failure.
    assert verified.code == 1, verified
    assert re.search(r"^Snapshot:\s+[0-9a-f]{12}, CORRUPTED", verified.out, re.M), verified
    assert re.search(r"^  corrupted  kept\.txt$", verified.out, re.M), verified
    assert "error: build" in verified.err and "snapshot is corrupted" in verified.err, verified


# ----------------------------------------------------------------------------------------------
# model alias


def test_alias_set_list_and_delete(admin_dir, gov):
    assert model(admin_dir, gov.project, "alias", gov.name).out == "No aliases.\n"
    set_ = model(admin_dir, gov.project, "alias", gov.name, "champion", gov.build_id)
    assert set_.code == 0, set_
    assert set_.out == (
        f"Alias champion of model {gov.name} is build {gov.build_id} (version 1).\n"
    ), set_
    listed = model(admin_dir, gov.project, "alias", gov.name)
    assert listed.code == 0, listed
    assert listed.out.startswith("ALIAS"), listed
    assert re.search(rf"^champion\s+{gov.build_id}\s+1\s+admin\s+\d{{4}}-", listed.out,
                     re.M), listed
    as_json = model(admin_dir, gov.project, "aliases", gov.name, "--json").json()
    assert [(a["alias"], a["build_id"]) for a in as_json["aliases"]] == [
        ("champion", int(gov.build_id))
    ]
    # A name the server refuses, a build that does not exist.
    bad = model(admin_dir, gov.project, "alias", gov.name, "9bad", gov.build_id)
    assert bad.code == 1 and bad.err.startswith("error: "), bad
    missing = model(admin_dir, gov.project, "alias", gov.name, "x", "999999")
    assert missing.code == 4, missing

    removed = model(admin_dir, gov.project, "alias", gov.name, "champion", "--delete")
    assert removed.code == 0, removed
    assert removed.out == f"Removed alias champion of model {gov.name}.\n", removed
    assert model(admin_dir, gov.project, "alias", gov.name).out == "No aliases.\n"
    again = model(admin_dir, gov.project, "alias", gov.name, "champion", "--delete")
    assert again.code == 4, again


# ----------------------------------------------------------------------------------------------
# model examples


def test_examples_add_list_and_replay(admin_dir, gov):
    # Without --response the serving build answers; with it, the answer is the one given.
    added = model(admin_dir, gov.project, "examples", gov.name, gov.build_id, "--add", '{"x": 1}')
    assert added.code == 0, added
    first = added.out.strip()
    assert first.isdigit(), added
    assert '{"echo":{"x":1}}' in added.err, added
    wrong = model(admin_dir, gov.project, "examples", gov.name, gov.build_id,
                  "--add", '{"x": 2}', "--response", '{"echo": {"x": 3}}')
    assert wrong.code == 0, wrong

    listed = model(admin_dir, gov.project, "examples", gov.name, gov.build_id)
    assert listed.code == 0, listed
    assert listed.out.startswith("ID"), listed
    assert re.search(rf'^{first}\s+\{{"x":1\}}\s+\{{"echo":\{{"x":1\}}\}}', listed.out,
                     re.M), listed

    replay = model(admin_dir, gov.project, "examples", gov.name, gov.build_id,
                   "--replay-against", gov.build_id)
    assert replay.code == 1, replay
    assert f"Replayed 2 examples of build {gov.build_id} against build {gov.build_id}: " \
           "1 same, 1 changed." in replay.out, replay
    assert re.search(r'^\d+\s+\{"x":2\}\s+\{"echo":\{"x":3\}\}\s+\{"echo":\{"x":2\}\}$',
                     replay.out, re.M), replay
    assert "error: 1 of the answers changed" in replay.err, replay
    as_json = model(admin_dir, gov.project, "examples", gov.name, gov.build_id,
                    "--replay-against", gov.build_id, "--json")
    assert as_json.code == 1 and as_json.json()["same"] == 1, as_json


# ----------------------------------------------------------------------------------------------
# lineage and catalog


def test_lineage_show_of_a_deployment_lists_the_model_and_build(admin_dir, gov):
    shown = cli(admin_dir, "lineage", "show", gov.deployment_crn, "--direction", "up",
                "--depth", "10")
    assert shown.code == 0, shown
    out = shown.out
    assert out.startswith(f"Lineage of deployment {gov.deployment_id} (model_deployment)"), shown
    # Nodes grouped by kind, with names and CRNs.
    models = out.split("\nModels:\n")[1].split("\n\n")[0]
    assert re.search(rf"^  {re.escape(gov.name)}\s+{re.escape(gov.model_crn)}$", models,
                     re.M), shown
    builds = out.split("\nModel builds:\n")[1].split("\n\n")[0]
    assert re.search(rf"^  build {gov.build_id}\s+crn:\S+$", builds, re.M), shown
    assert "\nDatasets:\n" in out and "data/churn.csv" in out, shown
    # Edges by name; a process named like an entity says which is which.
    assert f"  build {gov.build_id} (model_build) --input--> deploy {gov.deployment_id}\n" in out
    assert f"  {gov.name} --input--> build {gov.build_id} (build_model)\n" in out, shown
    assert f"  deploy {gov.deployment_id} --output--> deployment {gov.deployment_id}\n" in out

    as_json = cli(admin_dir, "lineage", "show", gov.deployment_crn, "--depth", "1", "--json")
    assert as_json.code == 0, as_json
    assert {n["kind"] for n in as_json.json()["nodes"]} == {"model_deployment", "deploy_model"}


def test_lineage_search_finds_the_model(admin_dir, gov):
    found = cli(admin_dir, "lineage", "search", gov.name, "--kind", "model")
    assert found.code == 0, found
    lines = found.out.splitlines()
    assert lines[0].split() == ["KIND", "NAME", "PROJECT", "CRN"], found
    assert lines[1].split() == ["model", gov.name, gov.project.id, gov.model_crn], found
    # By project name, as --project takes it everywhere.
    in_project = cli(admin_dir, "lineage", "search", "--project", gov.project.name, "--kind",
                     "dataset", "--json")
    assert in_project.code == 0, in_project
    assert "data/churn.csv" in {e["name"] for e in in_project.json()["entities"]}
    none = cli(admin_dir, "lineage", "search", unique("nothing-like-it"))
    assert none.code == 0 and none.out == "No entities found.\n", none
    hidden = cli(admin_dir, "lineage", "show", "crn:lathe:ml:default:project/999999")
    assert hidden.code == 4 and hidden.err.startswith("error: "), hidden


def test_lineage_export_prints_json(admin_dir, gov):
    atlas = cli(admin_dir, "lineage", "export", "--entity", gov.deployment_crn,
                "--direction", "up")
    assert atlas.code == 0, atlas
    types = {e["typeName"] for e in atlas.json()["entities"]}
    assert {"ml_model_deployment", "ml_deploy_model"} <= types
    plain = cli(admin_dir, "lineage", "export", "--format", "json", "--entity",
                gov.deployment_crn, "--depth", "2")
    assert plain.code == 0, plain
    assert gov.deployment_crn in {n["crn"] for n in plain.json()["nodes"]}


def test_catalog_row(admin_dir, gov):
    shown = cli(admin_dir, "catalog", "--search", gov.name)
    assert shown.code == 0, shown
    lines = shown.out.splitlines()
    assert re.split(r"\s{2,}", lines[0]) == [
        "MODEL", "PROJECT", "VERSIONS", "ALIASES", "DEPLOYED", "REQUESTS", "ERRORS",
        "LAST DEPLOYED", "TRAINING DATA"], shown
    assert len(lines) == 2, shown
    row = re.split(r"\s{2,}", lines[1])
    assert row[0] == gov.name and row[1] == gov.project.name, shown
    assert int(row[2]) >= 1
    assert row[4] == f"v1 (build {gov.build_id})", shown
    assert row[5].isdigit() and row[6].isdigit(), shown
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", row[7]), shown
    assert int(row[8]) >= 1, shown  # data/churn.csv, from lineage.yaml

    deployed = cli(admin_dir, "catalog", "--project", gov.project.id, "--deployed", "--json")
    assert deployed.code == 0, deployed
    assert [m["name"] for m in deployed.json()["models"]] == [gov.name]
    idle = cli(admin_dir, "catalog", "--project", gov.project.name, "--not-deployed")
    assert idle.code == 0 and idle.out == "No models.\n", idle


# ----------------------------------------------------------------------------------------------
# Usage, help


@pytest.mark.parametrize(
    "args",
    [
        ["model", "rebuild", "m", "--project", "1"],
        ["model", "rebuild", "m", "x", "--project", "1"],
        ["model", "rebuild", "m", "1", "--verfy", "--project", "1"],
        ["model", "alias", "--project", "1"],
        ["model", "alias", "m", "champion", "--project", "1"],
        ["model", "alias", "m", "--delete", "--project", "1"],
        ["model", "alias", "m", "champion", "3", "--delete", "--project", "1"],
        ["model", "alias", "m", "champion", "x", "--project", "1"],
        ["model", "examples", "m", "--project", "1"],
        ["model", "examples", "m", "1", "--add", "{not json", "--project", "1"],
        ["model", "examples", "m", "1", "--response", "{}", "--project", "1"],
        ["model", "examples", "m", "1", "--add", "{}", "--replay-against", "2", "--project", "1"],
        ["model", "examples", "m", "1", "--replay-against", "two", "--project", "1"],
        ["lineage"],
        ["lineage", "draw"],
        ["lineage", "show"],
        ["lineage", "show", "not-a-crn"],
        ["lineage", "show", "crn:x", "--depth", "0"],
        ["lineage", "show", "crn:x", "--depth", "11"],
        ["lineage", "show", "crn:x", "--direction", "sideways"],
        ["lineage", "search"],
        ["lineage", "search", "a", "b"],
        ["lineage", "export", "--format", "xml"],
        ["lineage", "export", "--depth", "2"],
        ["catalog", "--deployed", "--not-deployed"],
        ["catalog", "extra"],
        ["catalog", "--project"],
    ],
)
def test_bad_usage_exits_2(admin_dir, args):
    result = cli(admin_dir, *args)
    assert result.code == 2, result
    assert result.err.startswith("error: "), result
    assert f"usage: lathe {args[0]}" in result.err, result
    assert result.out == ""


@pytest.mark.parametrize(
    "args",
    [
        ["model", "rebuild", "--help"],
        ["model", "alias", "--help"],
        ["model", "examples", "--help"],
        ["lineage", "--help"],
        ["lineage", "show", "--help"],
        ["help", "lineage", "search"],
        ["lineage", "export", "-h"],
        ["catalog", "--help"],
        ["help", "catalog"],
    ],
)
def test_help_prints_usage(tmp_path, args):
    result = run_cli(tmp_path, *args)
    assert result.code == 0, result
    command = args[1] if args[0] == "help" else args[0]
    assert result.out.startswith(f"usage: lathe {command}"), result


def test_top_level_help_lists_lineage_and_catalog(tmp_path):
    result = run_cli(tmp_path, "help")
    assert result.code == 0, result
    assert "  lineage ..." in result.out and "  catalog " in result.out, result


def test_governance_commands_without_a_login_exit_3(tmp_path):
    for args in (["catalog"], ["lineage", "search", "x"]):
        result = run_cli(tmp_path, *args)
        assert result.code == 3, result
        assert result.err.startswith("error: not logged in"), result
