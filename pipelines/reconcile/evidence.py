"""Evidence a payment carries, gathered set-based in DuckDB for the whole night at once.

- **References**: every invoice a payment's remittance text or structured reference can
  mean. Invoice numbers and text tokens are reduced to *keys* the same way, so spellings
  that differ only in case, separators, a dropped prefix or dropped leading zeros meet:

  ``full``      letters and digits, upper case          INV-2025-004711 → INV2025004711
  ``noprefix``  ``full`` without leading letters        → 2025004711
  ``groups``    digit groups without leading zeros,
                after the first digit group             → 2025-4711
  ``digits``    all digits without leading zeros        → 2025004711 (structured refs only)

  Text is cut into tokens (letters and digits with inner ``-/._``), and adjacent tokens
  are joined too, so ``INV 2025 004711`` is read like ``INV-2025-004711``. ISO 11649
  creditor references (``RFkk`` + body) are matched on their body, Swiss QR references
  (27 digits) on their digits without the check digit, end-to-end ids on their keys.
- **Payer**: the counterparty account against the customers' accounts (master data, an
  account two customers share identifies neither), and the exact normalised name or alias.
  Fuzzy names and learned accounts are resolved in the walk (``matcher.py``).
"""

from __future__ import annotations

from datetime import date

import duckdb

TOKEN_PATTERN = r"[A-Za-z0-9]+(?:[-/._][A-Za-z0-9]+)*"
MIN_DIGITS_FULL = 1  # a key must carry at least one digit
MIN_DIGITS_LOOSE = 4  # noprefix / groups / digits keys need this many digits


def _full(x: str) -> str:
    return f"regexp_replace(upper({x}), '[^A-Z0-9]', '', 'g')"


def _groups(x: str) -> str:
    g = f"regexp_extract_all(upper({x}), '[A-Z]+|[0-9]+')"
    first_digit = f"list_position(list_transform({g}, lambda e: regexp_matches(e, '^[0-9]')), true)"
    rest = f"list_slice({g}, {first_digit}, len({g}))"
    return (f"array_to_string(list_transform({rest}, lambda e: CASE WHEN regexp_matches(e, '^[0-9]+$') "
            f"THEN coalesce(nullif(ltrim(e, '0'), ''), '0') ELSE e END), '-')")


def _digit_count(x: str) -> str:
    return f"length(regexp_replace({x}, '[^0-9]', '', 'g'))"


def keys_sql(x: str, with_digits: bool = False) -> str:
    """A list of (key, kind) structs for a text expression (the same rules for both sides)."""
    parts = [
        f"CASE WHEN {_digit_count(x)} >= {MIN_DIGITS_FULL} THEN {{'key': {_full(x)}, 'kind': 'full'}} END",
        f"CASE WHEN {_digit_count(x)} >= {MIN_DIGITS_LOOSE} "
        f"THEN {{'key': regexp_replace({_full(x)}, '^[A-Z]+', ''), 'kind': 'noprefix'}} END",
        f"CASE WHEN {_digit_count(x)} >= {MIN_DIGITS_LOOSE} THEN {{'key': {_groups(x)}, 'kind': 'groups'}} END",
    ]
    if with_digits:
        parts.append(f"CASE WHEN {_digit_count(x)} >= {MIN_DIGITS_LOOSE} THEN "
                     f"{{'key': ltrim(regexp_replace({x}, '[^0-9]', '', 'g'), '0'), 'kind': 'digits'}} END")
    return "list_filter([" + ", ".join(parts) + "], lambda k: k IS NOT NULL)"


def normalise_name_sql(column: str) -> str:
    """A company name reduced to letters and digits, upper case, for exact comparison."""
    return f"regexp_replace(upper(strip_accents(coalesce({column}, ''))), '[^A-Z0-9]', '', 'g')"


def normalise_account_sql(column: str) -> str:
    return f"upper(regexp_replace(coalesce({column}, ''), '[^A-Za-z0-9]', '', 'g'))"


def build_evidence(con: duckdb.DuckDBPyConnection, as_of: date) -> None:
    """Create the temp tables ``_txns``, ``_invoice_keys``, ``_refs`` and ``_payer_known``."""
    d = f"DATE '{as_of.isoformat()}'"
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _txns AS
        SELECT transaction_id, bank_reference, effective_date, amount, currency,
               counterparty_name, {normalise_account_sql('counterparty_account')} AS account_key,
               coalesce(remittance_info, '') AS remittance_info,
               coalesce(structured_reference, '') AS structured_reference,
               coalesce(end_to_end_id, '') AS end_to_end_id,
               is_reversal, reversal_of, return_reason
        FROM staging.stg_bank__transactions
        WHERE effective_date <= {d} AND amount IS NOT NULL AND amount <> 0
    """)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _invoice_keys AS
        SELECT DISTINCT invoice_id, k.key AS key, k.kind AS kind
        FROM (SELECT invoice_id, unnest({keys_sql('invoice_number', with_digits=True)}) AS k
              FROM staging.stg_erp__invoices)
        WHERE k.key <> ''
    """)
    # Tokens of the remittance text (unigrams and joined neighbours) and structured refs.
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _tokens AS
        WITH toks AS (
            SELECT transaction_id, regexp_extract_all(remittance_info, '{TOKEN_PATTERN}') AS t
            FROM _txns WHERE amount > 0 AND regexp_matches(remittance_info, '[0-9]')
        ),
        grams AS (
            -- only texts with a digit can quote a number
            SELECT transaction_id, unnest(t) AS token, unnest(range(len(t))) AS position, 1 AS n
            FROM toks
            UNION ALL
            SELECT transaction_id, unnest(list_transform(range(1, len(t)), lambda i: t[i] || '-' || t[i + 1])),
                   unnest(range(len(t) - 1)), 2
            FROM toks WHERE len(t) >= 2
            UNION ALL
            SELECT transaction_id,
                   unnest(list_transform(range(1, len(t) - 1), lambda i: t[i] || '-' || t[i + 1] || '-' || t[i + 2])),
                   unnest(range(len(t) - 2)), 3
            FROM toks WHERE len(t) >= 3
        )
        SELECT transaction_id, token, position, n, 'remittance_info' AS field, k.key AS key,
               k.kind AS kind
        FROM (SELECT *, unnest({keys_sql('token')}) AS k FROM grams
              WHERE regexp_matches(token, '[0-9]'))
        UNION ALL
        -- ISO 11649: RF + 2 check digits + body; Swiss QR: 26 digits + check digit
        SELECT transaction_id, structured_reference, 0, 1, 'structured_reference', k.key, k.kind
        FROM (SELECT transaction_id, structured_reference, unnest(
                CASE WHEN regexp_full_match(upper(replace(structured_reference, ' ', '')), 'RF[0-9]{{2}}[A-Z0-9]+')
                     THEN {keys_sql("substr(upper(replace(structured_reference, ' ', '')), 5)", with_digits=True)}
                     WHEN regexp_full_match(replace(structured_reference, ' ', ''), '[0-9]{{27}}')
                     THEN [{{'key': ltrim(substr(replace(structured_reference, ' ', ''), 1, 26), '0'),
                             'kind': 'digits'}}]
                     ELSE {keys_sql('structured_reference')} END) AS k
              FROM _txns WHERE amount > 0 AND structured_reference <> '')
        UNION ALL
        SELECT transaction_id, end_to_end_id, 0, 1, 'end_to_end_id', k.key, k.kind
        FROM (SELECT transaction_id, end_to_end_id, unnest({keys_sql('end_to_end_id')}) AS k
              FROM _txns WHERE amount > 0 AND end_to_end_id NOT IN ('', 'NOTPROVIDED'))
    """)
    # Every (payment, invoice) pair a key connects; the strongest evidence per pair.
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _refs AS
        SELECT t.transaction_id, i.invoice_id,
               min(t.position) AS position,
               arg_min(t.token, t.position) AS token,
               arg_min(t.field, CASE t.field WHEN 'structured_reference' THEN 0
                                              WHEN 'end_to_end_id' THEN 1 ELSE 2 END) AS field,
               bool_or(t.kind = 'full' AND i.kind = 'full') AS exact
        FROM _tokens t
        JOIN _invoice_keys i ON i.key = t.key AND (t.kind = i.kind OR i.kind = 'digits'
                                                   OR (t.kind = 'full' AND i.kind = 'noprefix'))
        GROUP BY ALL
    """)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _payer_known AS
        WITH accounts AS (
            SELECT {normalise_account_sql('acct')} AS account_key, min(customer_id) AS customer_id
            FROM (SELECT customer_id, unnest(string_split(coalesce(bank_accounts, ''), ';')) AS acct
                  FROM staging.stg_erp__customers)
            WHERE trim(acct) <> ''
            GROUP BY 1 HAVING count(DISTINCT customer_id) = 1
        ),
        names AS (
            SELECT {normalise_name_sql('n')} AS name_key, min(customer_id) AS customer_id
            FROM (SELECT customer_id, name AS n FROM staging.stg_erp__customers
                  UNION ALL
                  SELECT customer_id, unnest(string_split(coalesce(aliases, ''), ';'))
                  FROM staging.stg_erp__customers)
            WHERE trim(n) <> ''
            GROUP BY 1 HAVING count(DISTINCT customer_id) = 1
        )
        SELECT t.transaction_id, a.customer_id AS by_account, n.customer_id AS by_name
        FROM _txns t
        LEFT JOIN accounts a ON a.account_key = t.account_key AND t.account_key <> ''
        LEFT JOIN names n ON n.name_key = {normalise_name_sql('t.counterparty_name')}
                         AND {normalise_name_sql('t.counterparty_name')} <> ''
        WHERE t.amount > 0
    """)
