"""Deterministic, realistic ShopPulse data at scale, streamed into PostgreSQL with COPY."""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TextIO

from db_init.db import Session

Row = tuple[object, ...]
_CHUNK_BYTES = 256 * 1024
_REGIONS = ("WEST", "EAST", "NORTH", "SOUTH", "CENTRAL", "EMEA", "APAC")
_INDUSTRIES = ("Fashion", "Electronics", "Home & Garden", "Sports", "Beauty", "Grocery", "Toys")
_TIERS = ("Basic", "Standard", "Premium", "Enterprise")
_COUNTRIES = ("United States", "Canada", "United Kingdom", "Germany", "France", "Australia")
_ROLES = ("Admin", "Finance", "Operations", "Marketing")
_ORDER_STATUSES = (("Completed", 70), ("Processing", 10), ("Pending", 8), ("Cancelled", 5),
                   ("Returned", 5), ("Refunded", 2))  # fmt: skip
_CARRIERS = ("UPS", "FedEx", "DHL", "USPS", "Royal Mail")
_CHANNELS = ("Email", "Social", "Search", "Display", "Affiliate", "Influencer")
_CAMPAIGN_STATUSES = ("Completed", "Active", "Paused", "Scheduled")
_DIMENSIONS = ("region", "store", "team", "custom")
_ACTIONS = ("user.login", "report.viewed", "export.created", "user.updated", "rule.changed")
_FIRST_DAY = date(2023, 1, 1)
_DAYS = 3 * 365


@dataclass(frozen=True)
class Scale:
    """How much to generate; the same Scale and seed always give the same rows."""

    tenants: int = 10
    orders: int = 10_000  # in total, spread unevenly over the tenants
    users_per_tenant: int = 20
    campaigns_per_tenant: int = 40
    audit_logs_per_tenant: int = 200
    seed: int = 20_260_101
    first_tenant: int = 1  # T001 first, so the spec's sample queries (T001, U001) find data


@dataclass(frozen=True)
class Table:
    """One table's rows, in COPY column order."""

    name: str
    columns: tuple[str, ...]
    rows: Callable[[], Iterator[Row]]
    count: int


def tables(scale: Scale) -> list[Table]:
    """The tables to load, parents before children, each a lazily generated row stream."""
    first = scale.first_tenant
    tenant_ids = [f"T{n:03d}" for n in range(first, first + scale.tenants)]
    weights = _tenant_weights(scale, len(tenant_ids))
    order_counts = _split(scale.orders, weights)
    users = scale.users_per_tenant * len(tenant_ids)
    return [
        Table("tenants", ("tenant_id", "tenant_name", "industry", "plan_tier", "country"),
              lambda: _tenants(scale, tenant_ids), len(tenant_ids)),
        Table("users", ("user_id", "tenant_id", "cognito_user_id", "email", "first_name",
                        "last_name", "role", "status"),
              lambda: _users(scale, tenant_ids), users),
        Table("orders", ("order_id", "tenant_id", "order_date", "store_id", "region",
                         "gross_revenue", "discount_amount", "net_revenue", "status"),
              lambda: (o for o, _ in _orders(scale, tenant_ids, order_counts)), scale.orders),
        Table("fulfillment", ("order_id", "tenant_id", "fulfillment_status", "carrier",
                              "ship_date", "promised_delivery_date", "delivery_date", "sla_met"),
              lambda: _fulfillment(scale, tenant_ids, order_counts), scale.orders),
        Table("marketing_campaigns", ("campaign_id", "tenant_id", "campaign_name", "channel",
                                      "date", "status", "spend", "impressions", "clicks",
                                      "conversions", "revenue_attributed"),
              lambda: _campaigns(scale, tenant_ids), scale.campaigns_per_tenant * len(tenant_ids)),
        Table("governance_rules", ("tenant_id", "user_id", "dimension", "values"),
              lambda: _rules(scale, tenant_ids), users),
        Table("audit_logs", ("tenant_id", "user_id", "action", "resource_type", "resource_id",
                             "details", "ip_address", "created_at"),
              lambda: _audit(scale, tenant_ids), scale.audit_logs_per_tenant * len(tenant_ids)),
    ]  # fmt: skip


def csv_chunks(rows: Iterable[Row]) -> Iterator[str]:
    """CSV text (COPY's csv format) in chunks of about 256 KiB."""
    buffer: list[str] = []
    size = 0
    for row in rows:
        line = ",".join(_csv_field(value) for value in row) + "\n"
        buffer.append(line)
        size += len(line)
        if size >= _CHUNK_BYTES:
            yield "".join(buffer)
            buffer, size = [], 0
    if buffer:
        yield "".join(buffer)


def copy_statement(table: Table) -> str:
    """The COPY ... FROM STDIN statement for `table` (constant identifiers only)."""
    columns = ", ".join(f'"{c}"' for c in table.columns)
    return f"COPY {table.name} ({columns}) FROM STDIN WITH (FORMAT csv)"


def load(
    session: Session, scale: Scale, *, progress: Callable[[str, int, int], None] | None = None
) -> dict[str, int]:
    """COPY every table in one transaction; returns rows per table."""
    loaded: dict[str, int] = {}
    with session.transaction():
        for table in tables(scale):
            counted = _Counted(table.rows(), table, progress)
            session.copy_in(copy_statement(table), csv_chunks(counted))
            loaded[table.name] = counted.seen
    return loaded


def load_csv(session: Session, paths: dict[str, Path]) -> dict[str, int]:
    """COPY CSV files written by `write_csv` in one transaction; returns rows per table."""
    by_name = {table.name: table for table in tables(Scale(tenants=1, orders=1))}
    loaded: dict[str, int] = {}
    with session.transaction():
        for name, path in paths.items():
            with path.open(encoding="utf-8") as handle:
                chunks = iter(lambda: handle.read(_CHUNK_BYTES), "")
                loaded[name] = session.copy_in(copy_statement(by_name[name]), chunks)
    return loaded


def write_csv(scale: Scale, directory: Path) -> dict[str, Path]:
    """The same rows as CSV files (for comparing with psql \\copy)."""
    directory.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for table in tables(scale):
        path = directory / f"{table.name}.csv"
        with path.open("w", encoding="utf-8") as handle:
            for chunk in csv_chunks(table.rows()):
                handle.write(chunk)
        paths[table.name] = path
    return paths


class ProgressBar:
    """A one-line progress bar on a terminal; periodic lines otherwise."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream or sys.stderr
        self._started = self._last = time.monotonic()

    def __call__(self, table: str, done: int, total: int) -> None:
        now = time.monotonic()
        finished = done >= total
        tty = self._stream.isatty()
        if not finished and now - self._last < (0.2 if tty else 5.0):
            return
        self._last = now
        share = done / total if total else 1.0
        rate = done / max(now - self._started, 1e-6)
        bar = "#" * int(share * 30)
        text = f"{table:20} [{bar:30}] {share:4.0%} {done:>10,}/{total:,} ({rate:,.0f} rows/s)"
        end = "\n" if finished or not tty else ""
        print(("\r" if tty else "") + text, end=end, file=self._stream, flush=True)
        if finished:
            self._started = now


class _Counted:
    """Rows passed through, counted, reporting progress every 10,000 rows."""

    def __init__(
        self, rows: Iterator[Row], table: Table, progress: Callable[[str, int, int], None] | None
    ) -> None:
        self._rows, self._table, self._progress, self.seen = rows, table, progress, 0

    def __iter__(self) -> Iterator[Row]:
        for row in self._rows:
            self.seen += 1
            if self._progress and self.seen % 10_000 == 0 and self.seen < self._table.count:
                self._progress(self._table.name, self.seen, self._table.count)
            yield row
        if self._progress:
            self._progress(self._table.name, self.seen, self.seen)


def _csv_field(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, list):
        value = "{" + ",".join('"' + str(v).replace('"', '\\"') + '"' for v in value) + "}"
    text = str(value)
    if any(ch in text for ch in ',"\n\r') or text == "":
        return '"' + text.replace('"', '""') + '"'
    return text


def _tenant_weights(scale: Scale, count: int) -> list[float]:
    # A few large tenants and a long tail, as in real multi-tenant platforms (Zipf-like).
    rng = random.Random(scale.seed)
    weights = [1.0 / (rank + 1) ** 0.8 for rank in range(count)]
    rng.shuffle(weights)
    return weights


def _split(total: int, weights: list[float]) -> list[int]:
    whole = sum(weights)
    counts = [int(total * w / whole) for w in weights]
    for i in range(total - sum(counts)):
        counts[i % len(counts)] += 1
    return counts


def _tenants(scale: Scale, tenant_ids: list[str]) -> Iterator[Row]:
    rng = random.Random(scale.seed + 1)
    for n, tenant in enumerate(tenant_ids, 1):
        industry = rng.choice(_INDUSTRIES)
        yield (
            tenant,
            f"{industry} Store {n}",
            industry,
            rng.choice(_TIERS),
            rng.choice(_COUNTRIES),
        )


def _user_id(tenant_index: int, n: int, per_tenant: int) -> str:
    return f"U{tenant_index * per_tenant + n + 1:03d}"


def _users(scale: Scale, tenant_ids: list[str]) -> Iterator[Row]:
    rng = random.Random(scale.seed + 2)
    for t, tenant in enumerate(tenant_ids):
        for n in range(scale.users_per_tenant):
            user = _user_id(scale.first_tenant - 1 + t, n, scale.users_per_tenant)
            role = _ROLES[n % len(_ROLES)]
            status = "Active" if rng.random() < 0.9 else "Inactive"
            email = f"{user.lower()}@{tenant.lower()}.example"
            yield (user, tenant, f"cognito-{user.lower()}", email, f"First{n}", f"Last{n}", role,
                   status)  # fmt: skip


def _orders(
    scale: Scale, tenant_ids: list[str], counts: list[int]
) -> Iterator[tuple[Row, datetime]]:
    """Orders in date order with tenants interleaved, as a live platform writes them."""
    rng = random.Random(scale.seed + 3)
    statuses = [s for s, _ in _ORDER_STATUSES]
    weights = [w for _, w in _ORDER_STATUSES]
    per_day = [(count // _DAYS, set(rng.sample(range(_DAYS), count % _DAYS))) for count in counts]
    numbers = [0] * len(tenant_ids)
    for offset in range(_DAYS):
        day = _FIRST_DAY + timedelta(days=offset)
        for t, tenant in enumerate(tenant_ids):
            base, extra_days = per_day[t]
            for _ in range(base + (offset in extra_days)):
                numbers[t] += 1
                gross = round(rng.uniform(5, 500), 2)
                discount = round(gross * rng.choice((0, 0, 0, 0.05, 0.1, 0.2)), 2)
                status = rng.choices(statuses, weights)[0]
                store = f"S{rng.randrange(1, 21):03d}"
                net = round(gross - discount, 2)
                order = (f"{tenant}-O{numbers[t]:09d}", tenant, day.isoformat(), store,
                         rng.choice(_REGIONS), gross, discount, net, status)  # fmt: skip
                yield order, datetime(day.year, day.month, day.day)


def _fulfillment(scale: Scale, tenant_ids: list[str], counts: list[int]) -> Iterator[Row]:
    rng = random.Random(scale.seed + 4)
    for order, day in _orders(scale, tenant_ids, counts):
        status = order[8]
        if status in ("Pending", "Cancelled"):
            continue
        ship = day.date() + timedelta(days=rng.randrange(0, 3))
        promised = ship + timedelta(days=rng.choice((2, 3, 5)))
        delivered = ship + timedelta(days=rng.randrange(1, 8)) if status != "Processing" else None
        state = "Delivered" if delivered else "In Transit"
        sla = None if delivered is None else delivered <= promised
        yield (order[0], order[1], state, rng.choice(_CARRIERS), ship.isoformat(),
               promised.isoformat(), delivered.isoformat() if delivered else None, sla)  # fmt: skip


def _campaigns(scale: Scale, tenant_ids: list[str]) -> Iterator[Row]:
    rng = random.Random(scale.seed + 5)
    for tenant in tenant_ids:
        for n in range(scale.campaigns_per_tenant):
            day = _FIRST_DAY + timedelta(days=rng.randrange(_DAYS))
            spend = round(rng.choice((0, rng.uniform(50, 20_000))), 2)
            impressions = rng.randrange(1_000, 500_000)
            clicks = impressions * rng.randrange(1, 50) // 1000
            conversions = clicks * rng.randrange(1, 80) // 1000
            revenue = round(conversions * rng.uniform(20, 150), 2)
            yield (f"{tenant}-C{n:06d}", tenant, f"Campaign {n}", rng.choice(_CHANNELS),
                   day.isoformat(), rng.choice(_CAMPAIGN_STATUSES), spend, impressions, clicks,
                   conversions, revenue)  # fmt: skip


def _rules(scale: Scale, tenant_ids: list[str]) -> Iterator[Row]:
    rng = random.Random(scale.seed + 6)
    for t, tenant in enumerate(tenant_ids):
        for n in range(scale.users_per_tenant):
            dimension = rng.choice(_DIMENSIONS)
            values = rng.sample(_REGIONS, 2) if dimension == "region" else [f"{dimension}-{n % 5}"]
            yield (
                tenant,
                _user_id(scale.first_tenant - 1 + t, n, scale.users_per_tenant),
                dimension,
                values,
            )


def _audit(scale: Scale, tenant_ids: list[str]) -> Iterator[Row]:
    rng = random.Random(scale.seed + 7)
    for t, tenant in enumerate(tenant_ids):
        for _ in range(scale.audit_logs_per_tenant):
            user = _user_id(
                scale.first_tenant - 1 + t,
                rng.randrange(scale.users_per_tenant),
                scale.users_per_tenant,
            )
            action = rng.choice(_ACTIONS)
            at = datetime(2025, 1, 1) + timedelta(seconds=rng.randrange(365 * 86_400))
            details = f'{{"source": "generator", "n": {rng.randrange(1000)}}}'
            ip = f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
            yield (tenant, user, action, action.split(".")[0], user, details, ip,
                   at.isoformat() + "+00:00")  # fmt: skip


def next_tenant(session: Session) -> int:
    """The number after the highest T<n> tenant in the database (1 when there is none)."""
    rows = session.query(
        "SELECT coalesce(max(substring(tenant_id FROM 2)::int), 0) + 1 FROM tenants "
        "WHERE tenant_id ~ '^T[0-9]{1,9}$'"
    )
    return int(rows[0][0])
