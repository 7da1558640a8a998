"""A migrated database with three tenants' orders and login passwords for the application roles."""

from __future__ import annotations

import secrets
from contextlib import closing
from dataclasses import dataclass, field

from db_init import engine
from db_init.deadline import Deadline
from db_init.settings import ApplyOptions, ConnectionSettings, RolePassword
from tests.postgres import SQL_DIR, query, session

# Distinct counts, so a transaction that sees another tenant's rows cannot go unnoticed.
ORDERS_PER_TENANT = {"T001": 3, "T002": 5, "T003": 7}
APP_ROLE = "shoppulse_app"
ANALYTICS_ROLE = "shoppulse_analytics"
USERS = {"T001": "U001", "T002": "U002", "T003": "U003"}


@dataclass(frozen=True)
class AppDatabase:
    """The owner's settings and each application role's password."""

    owner: ConnectionSettings
    passwords: dict[str, str] = field(repr=False)

    def as_role(self, role: str) -> ConnectionSettings:
        """Direct (not pooled) settings for an application role."""
        return self.owner.with_credentials(role, self.passwords[role])


def create_app_database(admin: ConnectionSettings, name: str) -> AppDatabase:
    """Migrate and seed `name` afresh, with orders and one user per tenant."""
    passwords = {role: secrets.token_urlsafe(18) for role in (APP_ROLE, ANALYTICS_ROLE)}
    query(admin, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    owner = admin.with_database(name)
    options = ApplyOptions(
        sql_dir=SQL_DIR,
        apply_seeds=True,
        role_passwords=tuple(RolePassword(r, p) for r, p in passwords.items()),
    )
    engine.apply(owner, options, Deadline.after(60))
    with closing(session(owner)) as s:
        for tenant, count in ORDERS_PER_TENANT.items():
            s.query(
                "INSERT INTO orders (order_id, tenant_id, order_date, store_id, region,"
                " gross_revenue, net_revenue, status)"
                " SELECT 'ORD-' || :tenant || '-' || n, :tenant, DATE '2024-01-01' + n, 'S1',"
                " 'EAST', 10 * n, 10 * n, 'Completed' FROM generate_series(1, :count) AS n",
                tenant=tenant,
                count=count,
            )
            s.query(
                "INSERT INTO users (user_id, tenant_id, email, role)"
                " VALUES (:user, :tenant, :email, 'Admin')",
                user=USERS[tenant],
                tenant=tenant,
                email=f"admin@{tenant.lower()}.example",
            )
    return AppDatabase(owner, passwords)
