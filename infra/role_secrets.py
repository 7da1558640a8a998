"""Generated secrets of the application roles (V002) and their hosted multi-user rotation."""

from __future__ import annotations

import string

from aws_cdk import Duration, Stack
from aws_cdk import aws_kms as kms
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.config import DatabaseConfig
from infra.database import Database
from infra.network import Network

APP_ROLE = "shoppulse_app"  # DML on tenant tables, row-level security forced
ANALYTICS_ROLE = "shoppulse_analytics"  # read only, row-level security forced
PASSWORD_LENGTH = 32
# Construct id -> PostgreSQL role; the ids are pinned by tests (a rename replaces a secret).
ROLES = {"AppSecret": APP_ROLE, "AnalyticsSecret": ANALYTICS_ROLE}


class RoleSecrets(Construct):
    """One generated, rotated secret per application role, attached to the database."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DatabaseConfig,
        network: Network,
        database: Database,
        key: kms.IKey | None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.secrets: dict[str, secretsmanager.ISecret] = {}
        self.generated: list[secretsmanager.Secret] = []
        self.rotation_schedules: list[secretsmanager.RotationSchedule] = []
        for secret_id, role in ROLES.items():
            secret = secretsmanager.Secret(
                self,
                secret_id,
                description=f"ShopPulse {role} credentials (set by the schema initializer)",
                generate_secret_string=secretsmanager.SecretStringGenerator(
                    # masterarn: the multi-user rotation signs in with the admin secret to
                    # change this role's password; host/port/engine come from the attachment.
                    secret_string_template=Stack.of(self).to_json_string(
                        {"username": role, "masterarn": database.secret.secret_arn}
                    ),
                    generate_string_key="password",
                    # Letters and digits only: the password is safe in URLs and psql alike.
                    exclude_punctuation=True,
                    password_length=PASSWORD_LENGTH,
                ),
                # Same policy as the admin secret: retained wherever the database is.
                removal_policy=database.secret_removal,
                encryption_key=key,
            )
            self.generated.append(secret)
            attached = secret.attach(database.resource)
            schedule = attached.add_rotation_schedule(
                "RotationSchedule",
                automatically_after=Duration.days(config.rotation_days),
                # Same placement as the admin rotation: isolated subnets, its security group
                # (PostgreSQL to the database, HTTPS to the Secrets Manager endpoint, whose
                # private DNS name is the regional one the hosted function calls).
                hosted_rotation=secretsmanager.HostedRotation.postgre_sql_multi_user(
                    master_secret=database.secret,
                    vpc=network.vpc,
                    vpc_subnets=network.subnets,
                    security_groups=[database.rotation_security_group],
                    exclude_characters=string.punctuation,
                ),
            )
            self.secrets[role] = attached
            self.rotation_schedules.append(schedule)

    @property
    def app_secret(self) -> secretsmanager.ISecret:
        """The shoppulse_app secret (attached: its ARN orders after the host is filled in)."""
        return self.secrets[APP_ROLE]

    @property
    def analytics_secret(self) -> secretsmanager.ISecret:
        """The shoppulse_analytics secret."""
        return self.secrets[ANALYTICS_ROLE]
