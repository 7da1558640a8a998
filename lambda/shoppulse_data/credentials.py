"""Where a login comes from: the role's secret (cached) or an IAM auth token (the boto3 user)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Protocol

from shoppulse_data.errors import ConfigError, CredentialsError
from shoppulse_data.settings import AuthMode, ClientConfig

# The hosted PostgreSQL alternating-users rotation clones a role as <name>_clone and then
# alternates which of the two the secret (and so the proxy) holds.
CLONE_SUFFIX = "_clone"


@dataclass(frozen=True)
class Login:
    """A user name and the password (or IAM token) to present; repr() hides the password."""

    user: str
    password: str = field(repr=False)


class LoginSource(Protocol):
    """Gives the login to try, and a fresh one after the proxy refused it (28P01)."""

    def current(self) -> Login:
        """The login to use now (may be cached)."""
        ...

    def refresh(self) -> Login:
        """A login re-read after an authentication failure (a rotation may have happened)."""
        ...


@dataclass
class StaticLogin:
    """A fixed user and password: for a local server or pooler, never for the proxy."""

    login: Login

    def current(self) -> Login:
        """The fixed login."""
        return self.login

    def refresh(self) -> Login:
        """The same fixed login (nothing to re-read)."""
        return self.login


class SecretLogin:
    """username/password from the role's secret, read once and re-read after a refused login."""

    def __init__(self, secret_arn: str, *, client: Any) -> None:
        self._secret_arn = secret_arn
        self._client = client
        self._cached: Login | None = None

    def current(self) -> Login:
        """The cached login, read from Secrets Manager on first use."""
        if self._cached is None:
            self._cached = self._read()
        return self._cached

    def refresh(self) -> Login:
        """Re-read the secret: multi-user rotation may have moved to the other user."""
        self._cached = self._read()
        return self._cached

    def _read(self) -> Login:
        from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

        try:
            response = self._client.get_secret_value(SecretId=self._secret_arn)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "ClientError")
            raise CredentialsError(
                f"cannot read secret {self._secret_arn}: {code}; check that the function was"
                " given grant_connect for this role"
            ) from None
        except BotoCoreError as error:
            raise CredentialsError(
                f"cannot reach Secrets Manager for {self._secret_arn}: {type(error).__name__}"
            ) from None
        return parse_secret(self._secret_arn, response.get("SecretString"))


class IamLogin:
    """A fresh IAM auth token per connection for the role, or for its rotation clone.

    The proxy knows the user named in the secret's current version; the alternating-users
    rotation switches it between <role> and <role>_clone, so a refused login tries the other.
    """

    def __init__(self, *, host: str, port: int, user: str, client: Any) -> None:
        self._host = host
        self._port = port
        self._users = (user, user.removesuffix(CLONE_SUFFIX) + CLONE_SUFFIX)
        self._index = 0
        self._client = client

    def current(self) -> Login:
        """A token for the user that last worked (tokens are signed locally, no network)."""
        user = self._users[self._index]
        try:
            token = self._client.generate_db_auth_token(
                DBHostname=self._host, Port=self._port, DBUsername=user
            )
        except Exception as error:  # botocore raises several unrelated types here
            raise CredentialsError(
                f"cannot sign an IAM auth token for {user}: {type(error).__name__}; check the"
                " function's AWS credentials and region"
            ) from None
        return Login(user, token)

    def refresh(self) -> Login:
        """A token for the other of <role> / <role>_clone."""
        self._index = 1 - self._index
        return self.current()


def parse_secret(secret_id: str, text: str | None) -> Login:
    """username and password from the secret's JSON (host and port are ignored: see docs)."""
    try:
        data = json.loads(text or "")
    except ValueError:
        raise CredentialsError(f"secret {secret_id} is not valid JSON") from None
    if not isinstance(data, dict):
        raise CredentialsError(f"secret {secret_id} is not a JSON object")
    missing = [key for key in ("username", "password") if not isinstance(data.get(key), str)]
    if missing or not data["username"] or not data["password"]:
        raise CredentialsError(f"secret {secret_id} lacks username or password")
    return Login(data["username"], data["password"])


def login_source_for(config: ClientConfig) -> LoginSource:
    """The login source the config asks for, with a boto3 client created once."""
    import boto3  # noqa: PLC0415 - imported on first use: tests and local runs need no AWS SDK
    from botocore.config import Config  # noqa: PLC0415

    # Why short timeouts: a missing VPC endpoint otherwise hangs until the function times out.
    botocore_config = Config(connect_timeout=3, read_timeout=5, retries={"max_attempts": 2})
    if config.auth is AuthMode.IAM:
        if config.user is None:
            raise ConfigError("IAM authentication needs the role name")
        client = boto3.client("rds", region_name=config.region, config=botocore_config)
        return IamLogin(host=config.host, port=config.port, user=config.user, client=client)
    if config.secret_arn is None:
        raise ConfigError("secret authentication needs the role's secret ARN")
    client = boto3.client("secretsmanager", region_name=config.region, config=botocore_config)
    return SecretLogin(config.secret_arn, client=client)
