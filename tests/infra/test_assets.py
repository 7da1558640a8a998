"""infra.assets and the CA bundle: the SQL checksum definition and the bundled Lambda asset."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from cryptography import x509

from db_init.scripts import sql_tree_checksum
from infra import bytecode
from infra.closure import ClosureError, handler_closure
from tests.infra.conftest import REPO_ROOT, Synthesized

CA_BUNDLE = REPO_ROOT / "lambda" / "certs" / "aws-rds-proxy-ca-bundle.pem"
PYTHON_313_MAGIC = (3571).to_bytes(2, "little") + b"\r\n"


def test_sql_checksum_is_sha256_of_sorted_path_nul_content_nul(tmp_path: Path) -> None:
    # GIVEN a tree whose sorted order differs from creation order
    (tmp_path / "seeds").mkdir()
    (tmp_path / "seeds" / "S001.sql").write_bytes(b"insert;")
    (tmp_path / "migrations").mkdir()
    (tmp_path / "migrations" / "V001.sql").write_bytes(b"create;")
    # WHEN / THEN it equals the documented definition
    expected = hashlib.sha256(
        b"migrations/V001.sql\0create;\0" + b"seeds/S001.sql\0insert;\0"
    ).hexdigest()
    assert sql_tree_checksum(tmp_path) == expected


def test_sql_checksum_changes_with_a_rename_or_one_byte(tmp_path: Path) -> None:
    (tmp_path / "a.sql").write_bytes(b"select 1;")
    before = sql_tree_checksum(tmp_path)
    (tmp_path / "a.sql").write_bytes(b"select 2;")
    changed = sql_tree_checksum(tmp_path)
    (tmp_path / "a.sql").rename(tmp_path / "b.sql")
    renamed = sql_tree_checksum(tmp_path)
    assert len({before, changed, renamed}) == 3


def _asset_dir(synthesized: Synthesized) -> Path:
    manifest = json.loads(next(synthesized.outdir.glob("*.assets.json")).read_text())
    for asset in manifest["files"].values():
        candidate: Path = synthesized.outdir / str(asset["source"]["path"])
        if (candidate / "db_init").is_dir():
            return candidate
    raise AssertionError("no initializer asset in the cloud assembly")


# The handler's import closure: what `import db_init.handler` can load, and nothing else. A new
# module the handler imports joins the asset by itself (infra/closure.py); this list says so.
HANDLER_MODULES = [
    "__init__", "ahead", "baseline", "catalog", "catalog_cache", "credentials", "db", "deadline",
    "definition_diff", "drift", "engine", "error_lines", "errors", "failure_notes", "handler",
    "invalid_index", "ledger", "lint", "lint_catalog", "lint_config", "lint_markers", "logs",
    "manifest", "preflight", "progress", "properties", "response", "roles", "scripts", "settings",
    "splitter", "sql_names", "transaction_rules", "verify",
]  # fmt: skip
NOT_SHIPPED = [
    "__main__", "cli", "cli_commands", "cli_config", "cli_new", "cli_options", "cli_server",
    "cli_target", "cli_tools", "embedded", "generate", "lint_cli", "lint_report", "lint_rules", "rehearsal",
    "simulator",
]  # fmt: skip


def test_asset_ships_exactly_the_handler_import_closure(synthesized: Synthesized) -> None:
    # GIVEN each environment's asset WHEN its db_init/ is listed THEN only the closure is there
    package = _asset_dir(synthesized) / "db_init"
    assert sorted(path.stem for path in package.glob("*.py")) == sorted(HANDLER_MODULES)
    assert sorted(handler_closure(REPO_ROOT / "lambda" / "db_init")) == sorted(
        "db_init" if name == "__init__" else f"db_init.{name}" for name in HANDLER_MODULES
    )
    source = REPO_ROOT / "lambda" / "db_init"
    for name in NOT_SHIPPED:  # a module or a package
        assert (source / f"{name}.py").exists() or (source / name).is_dir(), name
        assert not (package / f"{name}.py").exists() and not (package / name).exists(), name
    assert [path.name for path in package.iterdir() if path.is_dir()] == ["__pycache__"]


def test_bundle_holds_certs_sql_and_pure_python_deps(dev: Synthesized) -> None:
    asset = _asset_dir(dev)
    for required in ("certs/aws-rds-proxy-ca-bundle.pem", "sql", "pg8000", "scramp"):
        assert (asset / required).exists(), required
    for required in ("crhelper", "asn1crypto", "dateutil", "six.py"):
        assert (asset / required).exists(), required
    assert not (asset / "boto3").exists(), "boto3 comes with the Lambda runtime"
    assert not list(asset.rglob("*.so")), "deps must be pure Python for arm64"


def test_every_shipped_module_has_unchecked_hash_bytecode_for_python_313(
    prod: Synthesized,
) -> None:
    # GIVEN the prod asset WHEN each .py is looked up THEN a 3.13 .pyc sits beside it, trusted
    # without re-reading the source (flags 0b01: hash-based, unchecked), naming /var/task paths
    asset = _asset_dir(prod)
    sources = sorted(asset.rglob("*.py"))
    assert len(sources) > len(HANDLER_MODULES)
    for source in sources:
        compiled = source.parent / "__pycache__" / f"{source.stem}.cpython-313.pyc"
        assert compiled.is_file(), compiled.relative_to(asset)
        header = compiled.read_bytes()[:8]
        assert header[:4] == PYTHON_313_MAGIC, compiled.relative_to(asset)
        assert int.from_bytes(header[4:8], "little") == 0b01, "unchecked-hash .pyc"
    handler_pyc = (asset / "db_init" / "__pycache__" / "handler.cpython-313.pyc").read_bytes()
    assert b"/var/task/db_init/handler.py" in handler_pyc
    assert str(asset).encode() not in handler_pyc, "build paths must not reach the asset"
    assert not [path for path in asset.rglob("*.pyc") if ".cpython-313." not in path.name]


def test_the_shipped_handler_imports_with_only_the_asset_and_boto3(prod: Synthesized) -> None:
    # GIVEN the asset first on sys.path, this venv's boto3 after it (the runtime provides it)
    asset = _asset_dir(prod)
    site = Path(boto3.__file__).resolve().parents[1]
    probe = (
        "import sys; sys.path[:0] = [sys.argv[1]]; sys.path.append(sys.argv[2]);"
        " import db_init.handler; print(db_init.handler.__file__)"
    )
    # WHEN imported in an isolated interpreter that may not write bytecode
    result = subprocess.run(
        [sys.executable, "-I", "-B", "-c", probe, str(asset), str(site)],
        capture_output=True,
        text=True,
        check=False,
    )
    # THEN it loads from the asset: nothing it imports was left out
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(asset / "db_init" / "handler.py")


def test_seeds_ship_only_where_they_are_applied(dev: Synthesized, prod: Synthesized) -> None:
    shipped = sorted(path.name for path in (_asset_dir(dev) / "sql" / "seeds").iterdir())
    assert shipped == sorted(path.name for path in (REPO_ROOT / "sql" / "seeds").iterdir())
    assert not (_asset_dir(prod) / "sql" / "seeds").exists()
    assert (_asset_dir(prod) / "sql" / "migrations").is_dir()


def test_bundled_sql_matches_the_checksum_property(synthesized: Synthesized) -> None:
    # GIVEN the bundle WHEN its sql/ is hashed THEN it equals SqlChecksum (the Lambda's check)
    _, resource = synthesized.only("Custom::ShopPulseSchema")
    bundled = sql_tree_checksum(_asset_dir(synthesized) / "sql")
    assert resource["Properties"]["SqlChecksum"] == bundled


def test_closure_refuses_a_local_only_module_imported_at_module_level(tmp_path: Path) -> None:
    # GIVEN a handler whose engine imports the embedded server at module level
    package = tmp_path / "db_init"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "handler.py").write_text("from db_init import engine\n")
    (package / "engine.py").write_text("import db_init.embedded\n")
    (package / "embedded.py").write_text("")
    # WHEN the closure is computed THEN it refuses, naming the file and the way out
    with pytest.raises(ClosureError, match=r"engine\.py imports db_init\.embedded at module"):
        handler_closure(package)


def test_closure_follows_lazy_and_relative_imports(tmp_path: Path) -> None:
    # GIVEN a handler with a relative import and a function-level import
    package = tmp_path / "db_init"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "handler.py").write_text("from . import a\n\ndef f():\n    import db_init.b\n")
    (package / "a.py").write_text("from .c import name\n")
    (package / "b.py").write_text("")
    (package / "c.py").write_text("name = 1\n")
    (package / "unused.py").write_text("")
    # WHEN / THEN each reachable module is in, the unreachable one is not
    assert sorted(handler_closure(package)) == [
        "db_init", "db_init.a", "db_init.b", "db_init.c", "db_init.handler",
    ]  # fmt: skip


def test_missing_lambda_python_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bytecode, "_candidates", lambda version: [])
    with pytest.raises(bytecode.BytecodeError, match=r"no Python 3\.13 found.*install it"):
        bytecode.lambda_python()


@pytest.mark.filterwarnings("ignore:Parsed a serial number")  # Starfield G2's serial is 0
def test_ca_bundle_holds_the_amazon_roots_and_starfield_g2() -> None:
    certs = x509.load_pem_x509_certificates(CA_BUNDLE.read_bytes())
    names = {cert.subject.rfc4514_string() for cert in certs}
    for index in range(1, 5):
        assert f"CN=Amazon Root CA {index},O=Amazon,C=US" in names
    assert any("Starfield Services Root Certificate Authority - G2" in name for name in names)
    assert all(cert.subject == cert.issuer for cert in certs), "roots only"


def test_ca_bundle_is_reproducible_from_pinned_certifi() -> None:
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "scripts" / "build_ca_bundle.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
