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
    """Digit and letter groups from the first digit on, joined by '-', numbers without leading
    zeros: ``INV 2025/004711-b`` → ``2025-4711-B``."""
    from_first_digit = f"regexp_extract(upper({x}), '[0-9].*')"
    dashed = f"regexp_replace({from_first_digit}, '[^A-Z0-9]+', '-', 'g')"
    split = f"regexp_replace(regexp_replace({dashed}, '([A-Z])([0-9])', '\\1-\\2', 'g'), " \
            f"'([0-9])([A-Z])', '\\1-\\2', 'g')"
    return f"regexp_replace(trim({split}, '-'), '(^|-)0+([0-9])', '\\1\\2', 'g')"


def nonzero_digits(x: str) -> str:
    """The non-zero digits of a text, in order. stg_erp__invoices stores this of every invoice
    number (``invoice_number_digits``), so the two must stay the same
    (tests/e2e/test_generated_night.py checks they agree)."""
    return f"regexp_replace({x}, '[^1-9]', '', 'g')"


def key_rows_sql(source: str, columns: str, x: str, with_digits: bool = False) -> str:
    """The rows (``columns``, key, kind) of ``source`` for its text expression ``x``: one per
    key kind that applies (the same rules for invoice numbers and remittance tokens).

    Each reduction is computed once per row and the kinds are plain projections of it: a
    million invoice numbers take about a second.
    """
    base = (f"SELECT {columns}, {x} AS _x, {_full(x)} AS _f, regexp_replace({x}, '[^0-9]', '', 'g') AS _d "
            f"FROM ({source}) WHERE {x} IS NOT NULL")
    loose = f"length(_d) >= {MIN_DIGITS_LOOSE}"
    parts = [
        f"SELECT {columns}, _f AS key, 'full' AS kind FROM _b WHERE length(_d) >= {MIN_DIGITS_FULL}",
        f"SELECT {columns}, regexp_replace(_f, '^[A-Z]+', ''), 'noprefix' FROM _b WHERE {loose}",
        f"SELECT {columns}, {_groups('_x')}, 'groups' FROM _b WHERE {loose}",
    ]
    if with_digits:
        parts.append(f"SELECT {columns}, ltrim(_d, '0'), 'digits' FROM _b WHERE {loose}")
    union = " UNION ALL ".join(parts)
    return f"SELECT * FROM (WITH _b AS MATERIALIZED ({base}) {union}) WHERE key <> ''"


def normalise_name_sql(column: str) -> str:
    """A company name reduced to letters and digits, upper case, for exact comparison."""
    return f"regexp_replace(upper(strip_accents(coalesce({column}, ''))), '[^A-Z0-9]', '', 'g')"


def normalise_account_sql(column: str) -> str:
    return f"upper(regexp_replace(coalesce({column}, ''), '[^A-Za-z0-9]', '', 'g'))"


def build_evidence(con: duckdb.DuckDBPyConnection, as_of: date, since: date | None = None,
                   invoice_keys: bool = True) -> None:
    """Create the temp tables ``_txns``, ``_invoice_keys``, ``_refs`` and ``_payer_known`` for the
    transactions effective on or before ``as_of`` (and after ``since``, when given; with
    ``invoice_keys`` false, the ``_invoice_keys`` of the same night's previous call are kept)."""
    d = f"DATE '{as_of.isoformat()}'"
    if since is not None:
        d += f" AND effective_date > DATE '{since.isoformat()}'"
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
    # Tokens of the remittance text (unigrams and joined neighbours) and structured refs.
    cols = "transaction_id, token, position, n, field"
    rf_body = "substr(upper(replace(token, ' ', '')), 5)"
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _grams AS
        WITH toks AS (
            -- only texts with a digit can quote a number
            SELECT transaction_id, regexp_extract_all(remittance_info, '{TOKEN_PATTERN}') AS t
            FROM _txns WHERE amount > 0 AND regexp_matches(remittance_info, '[0-9]')
        )
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
    """)
    structured = ("SELECT transaction_id, structured_reference AS token, 0 AS position, 1 AS n, "
                  "'structured_reference' AS field, "
                  "regexp_full_match(upper(replace(structured_reference, ' ', '')), 'RF[0-9]{2}[A-Z0-9]+') AS rf, "
                  "regexp_full_match(replace(structured_reference, ' ', ''), '[0-9]{27}') AS qr "
                  "FROM _txns WHERE amount > 0 AND structured_reference <> ''")
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _tokens AS
        {key_rows_sql("SELECT *, 'remittance_info' AS field FROM _grams WHERE regexp_matches(token, '[0-9]')",
                      cols, 'token')}
        UNION ALL
        -- ISO 11649: RF + 2 check digits + body (matched on the body)
        {key_rows_sql(f"SELECT * FROM ({structured}) WHERE rf", cols, rf_body, with_digits=True)}
        UNION ALL
        -- Swiss QR reference: 26 digits + a check digit
        SELECT {cols}, ltrim(substr(replace(token, ' ', ''), 1, 26), '0') AS key, 'digits' AS kind
        FROM ({structured}) WHERE qr AND NOT rf
        UNION ALL
        {key_rows_sql(f"SELECT * FROM ({structured}) WHERE NOT rf AND NOT qr", cols, 'token')}
        UNION ALL
        {key_rows_sql("SELECT transaction_id, end_to_end_id AS token, 0 AS position, 1 AS n, "
                      "'end_to_end_id' AS field FROM _txns "
                      "WHERE amount > 0 AND end_to_end_id NOT IN ('', 'NOTPROVIDED')", cols, 'token')}
    """)
    if invoice_keys:
        invoices = "SELECT invoice_id, invoice_number FROM staging.stg_erp__invoices"
        if since is not None:
            # Only the night's few payments: keys only for invoices that can meet one of their
            # tokens. Every key kind keeps a number's non-zero digits in order, so equal keys
            # have equal non-zero digits, and the rest cannot match.
            # (stored per invoice by stg_erp__invoices: at 10M invoices the regex over every
            # number took ~6 s a night; computed here only where a table built before the
            # column has none)
            invoices += (f" WHERE coalesce(invoice_number_digits, {nonzero_digits('invoice_number')}) IN "
                         f"(SELECT {nonzero_digits('key')} FROM _tokens)")
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE _invoice_keys AS
            {key_rows_sql(invoices, 'invoice_id', 'invoice_number', with_digits=True)}
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
