"""Secrets Manager lookup of the database secret (the only module that uses boto3)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from db_init.errors import CredentialsError

_REQUIRED = ("username", "password")


@dataclass(frozen=True)
class DbSecret:
    """The fields of an RDS-generated secret that we use; repr() hides the password."""

    username: str
    password: str = field(repr=False)
    host: str | None = None
    port: int | None = None
    dbname: str | None = None


def secrets_client(region: str | None = None) -> Any:
    """A Secrets Manager client that fails fast when no endpoint is reachable."""
    import boto3  # noqa: PLC0415 - imported on first use: keeps the CLI and cold start light
    from botocore.config import Config  # noqa: PLC0415

    # Why short timeouts: a missing VPC endpoint otherwise hangs until the Lambda times out.
    config = Config(connect_timeout=5, read_timeout=10, retries={"max_attempts": 2})
    return boto3.client("secretsmanager", region_name=region, config=config)


def read_secret(secret_id: str, *, client: Any) -> DbSecret:
    """Fetch and parse the secret; errors name the secret, never its value."""
    from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

    try:
        response = client.get_secret_value(SecretId=secret_id)
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "ClientError")
        raise CredentialsError(
            f"cannot read secret {secret_id}: {code}; check the ARN and that the function "
            "may call secretsmanager:GetSecretValue on it"
        ) from None
    except BotoCoreError as error:
        raise CredentialsError(
            f"cannot reach Secrets Manager for {secret_id}: {type(error).__name__}; "
            "check the Secrets Manager VPC endpoint and its security group"
        ) from None
    return parse_secret(secret_id, response.get("SecretString"))


def parse_secret(secret_id: str, text: str | None) -> DbSecret:
    """Parse the JSON secret string (as RDS generates it)."""
    if not text:
        raise CredentialsError(
            f"secret {secret_id} has no SecretString (binary secrets are not used)"
        )
    try:
        data = json.loads(text)
    except ValueError:
        raise CredentialsError(f"secret {secret_id} is not valid JSON") from None
    if not isinstance(data, dict):
        raise CredentialsError(f"secret {secret_id} is not a JSON object")
    missing = [key for key in _REQUIRED if not isinstance(data.get(key), str) or not data[key]]
    if missing:
        raise CredentialsError(f"secret {secret_id} lacks {', '.join(missing)}")
    port = data.get("port")
    try:
        port_number = int(port) if port not in (None, "") else None
    except (TypeError, ValueError):
        raise CredentialsError(f"secret {secret_id} has a non-numeric port") from None
    return DbSecret(
        username=data["username"],
        password=data["password"],
        host=data.get("host") or None,
        port=port_number,
        dbname=data.get("dbname") or None,
    )
