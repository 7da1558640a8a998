"""The application objects of a database with a comparable definition each, read in one query."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

from db_init import ledger
from db_init.db import Session


@dataclass(frozen=True)
class Entry:
    """One object's definition and the object a migration alters to change it (its owner)."""

    owner: str
    definition: str


# (kind, name) -> entry; names are schema-qualified, privileges name the object and grantee.
Catalog = dict[tuple[str, str], Entry]

MIGRATOR = "(migrator)"  # the role that runs the migrations, whatever its name on this server
KIND_ORDER = (
    "role", "role login", "extension", "schema", "type", "sequence", "table", "row security",
    "column", "default", "constraint", "index", "trigger", "trigger state", "policy", "view",
    "function", "owner", "privilege", "default privilege",
)  # fmt: skip

# The migrator is whoever owns our ledger (or, before there is one, whoever reads): owners and
# grantees are compared by that role, so a scratch copy built by another user still matches.
_ME = f"""me AS (SELECT coalesce(
    (SELECT nspowner FROM pg_namespace WHERE nspname = '{ledger.SCHEMA}'),
    (SELECT oid FROM pg_roles WHERE rolname = current_user)) AS oid)"""
# Our own ledger and PostgreSQL's catalogs are not part of the application schema.
_SKIP = f"""n.nspname NOT IN ('information_schema', '{ledger.SCHEMA}')
            AND n.nspname NOT LIKE 'pg\\_%'"""
_NOT_EXTENSION = """NOT EXISTS (SELECT 1 FROM pg_depend d
            WHERE d.objid = {oid} AND d.classid = {catalog}::regclass AND d.deptype = 'e')"""


def _role(oid: str) -> str:
    """SQL naming a role: PUBLIC, the migrator, or the role itself (quoted where needed)."""
    return f"""CASE WHEN {oid} = 0 THEN 'PUBLIC' WHEN {oid} = (SELECT oid FROM me)
                THEN '{MIGRATOR}' ELSE {oid}::regrole::text END"""


# One grantee's rows of aclexplode(...) AS a, as `SELECT, UPDATE ...`.
_PRIVILEGES = """string_agg(a.privilege_type
                || CASE WHEN a.is_grantable THEN ' with grant option' ELSE '' END,
                ', ' ORDER BY a.privilege_type)"""


_REL = "c.relkind IN ('r', 'p', 'f', 'v', 'm', 'S')"
_REL_WORD = """CASE c.relkind WHEN 'S' THEN 'sequence' WHEN 'v' THEN 'view'
                WHEN 'm' THEN 'materialized view' WHEN 'f' THEN 'foreign table' ELSE 'table' END"""
_QNAME = "n.nspname || '.' || c.relname"
# A sequence belongs to the table whose column owns it (serial or identity): that is what a
# migration alters to change it.
_SEQUENCE_OWNER = f"""coalesce((SELECT tn.nspname || '.' || t.relname FROM pg_depend d
                JOIN pg_class t ON t.oid = d.refobjid
                JOIN pg_namespace tn ON tn.oid = t.relnamespace
                WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                  AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
                LIMIT 1), {_QNAME})"""
_REL_OWNER = f"CASE WHEN c.relkind = 'S' THEN {_SEQUENCE_OWNER} ELSE {_QNAME} END"
_FUNC = "n.nspname || '.' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')'"

_QUERIES: tuple[str, ...] = (
    # text, not name: the first branch types the columns of the whole UNION
    """SELECT 'extension', x.extname::text, x.extname::text, 'in schema ' || n.nspname
         FROM pg_extension x JOIN pg_namespace n ON n.oid = x.extnamespace
        WHERE x.extname <> 'plpgsql'""",
    f"""SELECT 'schema', n.nspname, n.nspname, 'schema'
          FROM pg_namespace n
         WHERE {_SKIP} AND n.nspname <> 'public'
           AND {_NOT_EXTENSION.format(oid="n.oid", catalog="'pg_namespace'")}""",
    f"""SELECT 'type', n.nspname || '.' || t.typname, n.nspname || '.' || t.typname,
               CASE t.typtype
                 WHEN 'e' THEN 'enum (' || (SELECT string_agg(quote_literal(e.enumlabel), ', '
                               ORDER BY e.enumsortorder) FROM pg_enum e
                               WHERE e.enumtypid = t.oid) || ')'
                 ELSE 'domain ' || format_type(t.typbasetype, t.typtypmod)
                      || CASE WHEN t.typnotnull THEN ' not null' ELSE '' END
                      || coalesce(' ' || (SELECT string_agg(pg_get_constraintdef(k.oid), ' '
                               ORDER BY k.conname) FROM pg_constraint k
                               WHERE k.contypid = t.oid), '')
               END
          FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
         WHERE t.typtype IN ('e', 'd') AND {_SKIP}
           AND {_NOT_EXTENSION.format(oid="t.oid", catalog="'pg_type'")}""",
    f"""SELECT 'sequence', {_QNAME}, {_SEQUENCE_OWNER},
               format_type(s.seqtypid, NULL) || ' increment ' || s.seqincrement
               || ' minvalue ' || s.seqmin || ' maxvalue ' || s.seqmax
               || ' start ' || s.seqstart || ' cache ' || s.seqcache
               || CASE WHEN s.seqcycle THEN ' cycle' ELSE '' END
          FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid
          JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE {_SKIP} AND {_NOT_EXTENSION.format(oid="c.oid", catalog="'pg_class'")}""",
    f"""SELECT 'table', {_QNAME}, {_QNAME},
               CASE c.relkind WHEN 'p' THEN 'partitioned table' WHEN 'f' THEN 'foreign table'
                    ELSE 'table' END
               || CASE WHEN c.relpersistence = 'u' THEN ', unlogged' ELSE '' END
          FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE c.relkind IN ('r', 'p', 'f') AND {_SKIP}
           AND {_NOT_EXTENSION.format(oid="c.oid", catalog="'pg_class'")}""",
    f"""SELECT 'row security', {_QNAME}, {_QNAME},
               CASE WHEN c.relrowsecurity THEN 'enabled' ELSE 'off' END
               || CASE WHEN c.relforcerowsecurity THEN ', forced' ELSE '' END
          FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE c.relkind IN ('r', 'p') AND {_SKIP}
           AND {_NOT_EXTENSION.format(oid="c.oid", catalog="'pg_class'")}""",
    f"""SELECT 'column', {_QNAME} || '.' || a.attname, {_QNAME},
               format_type(a.atttypid, a.atttypmod)
               || CASE WHEN a.attcollation <> t.typcollation
                       THEN ' collate ' || quote_ident(co.collname) ELSE '' END
               || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
          FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
          JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_type t ON t.oid = a.atttypid
          LEFT JOIN pg_collation co ON co.oid = a.attcollation
         WHERE c.relkind IN ('r', 'p', 'f', 'v', 'm') AND a.attnum > 0
           AND NOT a.attisdropped AND {_SKIP}
           AND {_NOT_EXTENSION.format(oid="c.oid", catalog="'pg_class'")}""",
    f"""SELECT 'default', {_QNAME} || '.' || a.attname, {_QNAME},
               concat_ws(' ', pg_get_expr(d.adbin, d.adrelid),
                   CASE a.attidentity WHEN 'a' THEN 'generated always as identity'
                        WHEN 'd' THEN 'generated by default as identity' END,
                   CASE a.attgenerated WHEN 's' THEN 'generated stored'
                        WHEN 'v' THEN 'generated virtual' END)
          FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
          JOIN pg_namespace n ON n.oid = c.relnamespace
          LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
         WHERE c.relkind IN ('r', 'p', 'f') AND a.attnum > 0 AND NOT a.attisdropped
           AND (d.adbin IS NOT NULL OR a.attidentity <> '') AND {_SKIP}
           AND {_NOT_EXTENSION.format(oid="c.oid", catalog="'pg_class'")}""",
    # NOT NULL constraints (PostgreSQL 18 lists them here) are compared as column facts.
    f"""SELECT 'constraint', {_QNAME} || '.' || k.conname, {_QNAME},
               pg_get_constraintdef(k.oid)
          FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
          JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE k.contype <> 'n' AND {_SKIP}
           AND {_NOT_EXTENSION.format(oid="c.oid", catalog="'pg_class'")}""",
    f"""SELECT 'index', n.nspname || '.' || t.relname || '.' || i.relname,
               n.nspname || '.' || t.relname, pg_get_indexdef(x.indexrelid)
          FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
          JOIN pg_class t ON t.oid = x.indrelid JOIN pg_namespace n ON n.oid = t.relnamespace
         WHERE {_SKIP} AND {_NOT_EXTENSION.format(oid="t.oid", catalog="'pg_class'")}""",
    f"""SELECT 'trigger', {_QNAME} || '.' || g.tgname, {_QNAME}, pg_get_triggerdef(g.oid)
          FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid
          JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE NOT g.tgisinternal AND {_SKIP}""",
    # A disabled trigger still has its definition: whether it fires is a fact of its own.
    f"""SELECT 'trigger state', {_QNAME} || '.' || g.tgname, {_QNAME},
               CASE g.tgenabled WHEN 'O' THEN 'enabled' WHEN 'D' THEN 'disabled'
                    WHEN 'R' THEN 'enabled on replicas only' ELSE 'always enabled' END
          FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid
          JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE NOT g.tgisinternal AND {_SKIP}""",
    f"""SELECT 'policy', {_QNAME} || '.' || p.polname, {_QNAME},
               CASE WHEN p.polpermissive THEN 'permissive' ELSE 'restrictive' END
               || ' for ' || CASE p.polcmd WHEN 'r' THEN 'select' WHEN 'a' THEN 'insert'
                    WHEN 'w' THEN 'update' WHEN 'd' THEN 'delete' ELSE 'all' END
               || ' to ' || (SELECT string_agg({_role("r")}, ', ' ORDER BY {_role("r")})
                             FROM unnest(p.polroles) r)
               || coalesce(' using (' || pg_get_expr(p.polqual, p.polrelid) || ')', '')
               || coalesce(' with check (' || pg_get_expr(p.polwithcheck, p.polrelid) || ')', '')
          FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid
          JOIN pg_namespace n ON n.oid = c.relnamespace WHERE {_SKIP}""",
    f"""SELECT 'view', {_QNAME}, {_QNAME},
               CASE c.relkind WHEN 'm' THEN 'materialized ' ELSE '' END || 'view'
               || coalesce(' with (' || array_to_string(c.reloptions, ', ') || ')', '')
               || ' as ' || pg_get_viewdef(c.oid)
          FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE c.relkind IN ('v', 'm') AND {_SKIP}
           AND {_NOT_EXTENSION.format(oid="c.oid", catalog="'pg_class'")}""",
    # pg_get_functiondef carries SECURITY DEFINER, SET search_path, volatility and the body.
    f"""SELECT 'function', {_FUNC}, {_FUNC},
               CASE WHEN p.prokind IN ('f', 'p') THEN pg_get_functiondef(p.oid)
                    ELSE p.prokind::text END
          FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
         WHERE {_SKIP} AND {_NOT_EXTENSION.format(oid="p.oid", catalog="'pg_proc'")}""",
    f"""SELECT 'owner', {_REL_WORD} || ' ' || {_QNAME}, {_REL_OWNER}, {_role("c.relowner")}
          FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE {_REL} AND {_SKIP}
           AND {_NOT_EXTENSION.format(oid="c.oid", catalog="'pg_class'")}""",
    f"""SELECT 'owner', 'schema ' || n.nspname, n.nspname, {_role("n.nspowner")}
          FROM pg_namespace n
         WHERE {_SKIP} AND {_NOT_EXTENSION.format(oid="n.oid", catalog="'pg_namespace'")}""",
    f"""SELECT 'owner', 'function ' || {_FUNC}, {_FUNC}, {_role("p.proowner")}
          FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
         WHERE {_SKIP} AND {_NOT_EXTENSION.format(oid="p.oid", catalog="'pg_proc'")}""",
    f"""SELECT 'owner', 'type ' || n.nspname || '.' || t.typname, n.nspname || '.' || t.typname,
               {_role("t.typowner")}
          FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
         WHERE t.typtype IN ('e', 'd') AND {_SKIP}
           AND {_NOT_EXTENSION.format(oid="t.oid", catalog="'pg_type'")}""",
    # Privileges per grantee; the owner's own (implicit) privileges are its ownership.
    f"""SELECT 'privilege', {_REL_WORD} || ' ' || {_QNAME} || ' to ' || {_role("a.grantee")},
               {_REL_OWNER}, {_PRIVILEGES}
          FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace,
               aclexplode(coalesce(c.relacl, acldefault(
                   CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END::"char", c.relowner))) a
         WHERE {_REL} AND a.grantee <> c.relowner AND {_SKIP}
           AND {_NOT_EXTENSION.format(oid="c.oid", catalog="'pg_class'")}
         GROUP BY c.oid, c.relkind, n.nspname, c.relname, a.grantee""",
    f"""SELECT 'privilege', 'column ' || {_QNAME} || '.' || t.attname || ' to '
               || {_role("a.grantee")}, {_QNAME}, {_PRIVILEGES}
          FROM pg_attribute t JOIN pg_class c ON c.oid = t.attrelid
          JOIN pg_namespace n ON n.oid = c.relnamespace, aclexplode(t.attacl) a
         WHERE t.attacl IS NOT NULL AND t.attnum > 0 AND a.grantee <> c.relowner AND {_SKIP}
         GROUP BY n.nspname, c.relname, t.attname, a.grantee""",
    f"""SELECT 'privilege', 'schema ' || n.nspname || ' to ' || {_role("a.grantee")},
               n.nspname, {_PRIVILEGES}
          FROM pg_namespace n,
               aclexplode(coalesce(n.nspacl, acldefault('n'::"char", n.nspowner))) a
         WHERE a.grantee <> n.nspowner AND {_SKIP}
           AND {_NOT_EXTENSION.format(oid="n.oid", catalog="'pg_namespace'")}
         GROUP BY n.nspname, a.grantee""",
    f"""SELECT 'privilege', 'function ' || {_FUNC} || ' to ' || {_role("a.grantee")},
               {_FUNC}, {_PRIVILEGES}
          FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace,
               aclexplode(coalesce(p.proacl, acldefault('f'::"char", p.proowner))) a
         WHERE a.grantee <> p.proowner AND {_SKIP}
           AND {_NOT_EXTENSION.format(oid="p.oid", catalog="'pg_proc'")}
         GROUP BY p.oid, n.nspname, p.proname, a.grantee""",
    # What objects created later receive: a migration creating a table inherits these.
    f"""SELECT 'default privilege', 'for ' || {_role("d.defaclrole")}
               || coalesce(' in schema ' || n.nspname, '') || ' on '
               || CASE d.defaclobjtype WHEN 'r' THEN 'tables' WHEN 'S' THEN 'sequences'
                    WHEN 'f' THEN 'functions' WHEN 'T' THEN 'types' WHEN 'n' THEN 'schemas'
                    ELSE 'large objects' END
               || ' to ' || {_role("a.grantee")}, {_role("a.grantee")}, {_PRIVILEGES}
          FROM pg_default_acl d LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace,
               aclexplode(d.defaclacl) a
         GROUP BY d.oid, d.defaclrole, n.nspname, d.defaclobjtype, a.grantee""",
)
_QUERY = f"WITH {_ME}\n" + "\nUNION ALL\n".join(f"({q})" for q in _QUERIES)
_ROLES = f"""WITH {_ME}
SELECT r.rolname, r.rolsuper, r.rolcreatedb, r.rolcreaterole, r.rolinherit, r.rolreplication,
       r.rolbypassrls, r.rolconnlimit, r.rolcanlogin,
       coalesce((SELECT string_agg({_role("m.roleid")}, ', ' ORDER BY {_role("m.roleid")})
                 FROM pg_auth_members m WHERE m.member = r.oid), '')
  FROM pg_roles r WHERE r.rolname = ANY(CAST(:names AS text[]))"""
# Changes whenever a query does: part of the key of a cached catalog.
FORMAT = hashlib.sha256((_QUERY + _ROLES).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class RoleShape:
    """A project role's attributes and memberships (login None: either is expected)."""

    superuser: bool = False
    createdb: bool = False
    createrole: bool = False
    inherit: bool = True
    replication: bool = False
    bypassrls: bool = False
    connection_limit: int = -1
    member_of: tuple[str, ...] = ()
    login: bool | None = None

    def definition(self) -> str:
        """The attributes as the catalog compares them."""
        flags = (
            ("superuser", self.superuser),
            ("createdb", self.createdb),
            ("createrole", self.createrole),
            ("inherit", self.inherit),
            ("replication", self.replication),
            ("bypassrls", self.bypassrls),
        )
        words = [name if on else f"no{name}" for name, on in flags]
        words.append(f"connection limit {self.connection_limit}")
        members = ", ".join(sorted(self.member_of)) or "no role"
        return " ".join(words) + f"; member of {members}"


def entries_of_roles(roles: Mapping[str, RoleShape]) -> Catalog:
    """The catalog entries of roles (LOGIN only where the shape says which it must be)."""
    catalog: Catalog = {}
    for name, shape in roles.items():
        catalog[("role", name)] = Entry(name, shape.definition())
        if shape.login is not None:
            catalog[("role login", name)] = Entry(name, "login" if shape.login else "nologin")
    return catalog


def read(session: Session, *, roles: Mapping[str, RoleShape] | None = None) -> Catalog:
    """Every application object of the database, and the named roles as they are now."""
    catalog: Catalog = {}
    for kind, name, owner, definition in session.query(_QUERY):
        text = "\n".join(line.rstrip() for line in str(definition).strip().splitlines())
        catalog[(str(kind), str(name))] = Entry(str(owner), text)
    if roles:
        catalog.update(entries_of_roles(read_roles(session, roles)))
    return catalog


def read_roles(session: Session, declared: Mapping[str, RoleShape]) -> dict[str, RoleShape]:
    """The live shape of each declared role that exists (LOGIN read where it is declared)."""
    live: dict[str, RoleShape] = {}
    for row in session.query(_ROLES, names=sorted(declared)):
        name, sup, createdb, createrole, inherit, replication, bypass, limit, login, of = row
        live[str(name)] = RoleShape(
            superuser=bool(sup),
            createdb=bool(createdb),
            createrole=bool(createrole),
            inherit=bool(inherit),
            replication=bool(replication),
            bypassrls=bool(bypass),
            connection_limit=int(limit),
            member_of=tuple(m for m in str(of).split(", ") if m),
            login=bool(login) if declared[str(name)].login is not None else None,
        )
    return live


def same(left: str, right: str) -> bool:
    """Definitions are equal up to whitespace (layout is not schema)."""
    return left.split() == right.split()
