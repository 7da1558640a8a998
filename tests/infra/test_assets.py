"""infra.assets and the CA bundle: the SQL checksum definition and the bundled Lambda asset."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509

from db_init.scripts import sql_tree_checksum
from tests.infra.conftest import REPO_ROOT, Synthesized

CA_BUNDLE = REPO_ROOT / "lambda" / "certs" / "aws-rds-proxy-ca-bundle.pem"


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


def test_bundle_holds_handler_package_certs_sql_and_pure_python_deps(dev: Synthesized) -> None:
    asset = _asset_dir(dev)
    for required in ("db_init", "certs/aws-rds-proxy-ca-bundle.pem", "sql", "pg8000", "scramp"):
        assert (asset / required).exists(), required
    for required in ("crhelper", "asn1crypto", "dateutil", "six.py"):
        assert (asset / required).exists(), required
    assert not (asset / "boto3").exists(), "boto3 comes with the Lambda runtime"
    assert not list(asset.rglob("__pycache__"))
    assert not list(asset.rglob("*.so")), "deps must be pure Python for arm64"


def test_bundled_sql_matches_the_checksum_property(dev: Synthesized) -> None:
    # GIVEN the bundle WHEN its sql/ is hashed THEN it equals SqlChecksum and the repo's sql/
    _, resource = dev.only("Custom::ShopPulseSchema")
    bundled = sql_tree_checksum(_asset_dir(dev) / "sql")
    assert resource["Properties"]["SqlChecksum"] == bundled
    assert bundled == sql_tree_checksum(REPO_ROOT / "sql")


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
