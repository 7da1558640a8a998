"""The customer-managed KMS key for the database's data at rest (staging and prod)."""

from __future__ import annotations

from aws_cdk import Aws, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct


class DataKey(Construct):
    """One rotated key for the secrets, database storage, Performance Insights and log groups."""

    def __init__(self, scope: Construct, construct_id: str, *, environment: str) -> None:
        super().__init__(scope, construct_id)
        region = Stack.of(self).region
        self.key = kms.Key(
            self,
            "Key",
            description=f"ShopPulse {environment}: secrets, database storage, Performance"
            " Insights and log groups",
            enable_key_rotation=True,
            # Snapshots, retained secrets and retained logs stay readable only with this key:
            # deleting the stack must never schedule it for deletion. No alias, so a re-created
            # stack makes a new key beside it instead of colliding with a name.
            removal_policy=RemovalPolicy.RETAIN,
        )
        # CloudWatch Logs encrypts with the key only for this account's log groups.
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchLogsOfThisAccount",
                principals=[iam.ServicePrincipal(f"logs.{region}.amazonaws.com")],
                actions=[
                    "kms:Encrypt*",
                    "kms:Decrypt*",
                    "kms:ReEncrypt*",
                    "kms:GenerateDataKey*",
                    "kms:Describe*",
                ],
                resources=["*"],
                conditions={
                    "ArnLike": {
                        "kms:EncryptionContext:aws:logs:arn": (
                            f"arn:{Aws.PARTITION}:logs:{region}:{Aws.ACCOUNT_ID}:log-group:*"
                        )
                    }
                },
            )
        )

    def grant_decrypt_via_secrets_manager(self, grantee: iam.IGrantable) -> None:
        """Let grantee decrypt secrets it reads, only through Secrets Manager in this region."""
        self.key.grant_decrypt(
            kms.ViaServicePrincipal(
                f"secretsmanager.{Stack.of(self).region}.amazonaws.com", grantee.grant_principal
            )
        )
