"""Customers and salespeople: the ERP master data, plus the hidden traits that drive how each
customer pays (never written to the inbox)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipelines.synthetic import words
from pipelines.synthetic.checks import be_bban, fr_bban, iban_from_bban, nl_complete_account

CURRENCY_WEIGHTS = (("EUR", 0.78), ("USD", 0.12), ("CHF", 0.10))

TEAMS = ("DACH", "Benelux & France", "Nordics", "UK & Ireland", "Key Accounts")
TEAM_WEIGHTS = (0.38, 0.2, 0.12, 0.13, 0.17)
TEAM_OF_COUNTRY = {
    "DE": 0, "AT": 0, "CH": 0, "NL": 1, "BE": 1, "FR": 1,
    "SE": 2, "DK": 2, "FI": 2, "GB": 3, "IE": 3,
}  # fmt: skip

_TRANSLIT = str.maketrans(
    {"Ä": "AE", "Ö": "OE", "Ü": "UE", "ß": "SS", "É": "E", "È": "E", "Ø": "OE", "Å": "AA",
     "Ç": "C", "&": "+", ".": ""}
)  # fmt: skip


def norm_name(name: str) -> str:
    """How the truth compares payer names with master data: case-folded, whitespace collapsed."""
    return " ".join(name.casefold().split())


def bank_style(name: str) -> str:
    """A name as many banks print it: upper case, umlauts transliterated, dots dropped."""
    return " ".join(name.upper().translate(_TRANSLIT).split())


# --------------------------------------------------------------------------- IBANs
class IbanFactory:
    """Unique, check-digit-valid IBANs per country (national check digits where well known)."""

    _GB_BANKS = ("NWBK", "BARC", "LOYD", "HBUK", "MIDL")
    _IE_BANKS = ("AIBK", "BOFI", "IPBS")
    _NL_BANKS = ("ABNA", "INGB", "RABO", "TRIO", "SNSB", "KNAB")

    def __init__(self, rng: np.random.Generator, reserved: tuple[str, ...] = ()):
        self.rng = rng
        self.used: set[str] = set(reserved)

    def _digits(self, n: int) -> str:
        return "".join(str(d) for d in self.rng.integers(0, 10, n))

    def _bban(self, country: str) -> str:
        d = self._digits
        if country == "DE":
            return str(self.rng.integers(1, 9)) + d(7) + d(10)
        if country == "AT":
            return str(self.rng.integers(1, 9)) + d(4) + d(11)
        if country == "CH":
            return d(5) + d(12)
        if country == "NL":
            while True:
                account = nl_complete_account(d(9))
                if account is not None:
                    return self._NL_BANKS[self.rng.integers(len(self._NL_BANKS))] + account
        if country == "FR":
            return fr_bban(str(self.rng.integers(10000, 99999)), d(5), d(11))
        if country == "BE":
            return be_bban(str(self.rng.integers(100, 999)), d(7))
        if country == "GB":
            return self._GB_BANKS[self.rng.integers(len(self._GB_BANKS))] + d(6) + d(8)
        if country == "IE":
            return self._IE_BANKS[self.rng.integers(len(self._IE_BANKS))] + d(6) + d(8)
        if country == "FI":
            return d(14)
        if country == "SE":
            return d(20)
        if country == "DK":
            return d(14)
        raise ValueError(f"no IBAN layout for country {country!r}")

    def new(self, country: str) -> str:
        while True:
            iban = iban_from_bban(country, self._bban(country))
            if iban not in self.used:
                self.used.add(iban)
                return iban


# --------------------------------------------------------------------------- names
def _name_parts(country: str, rng: np.random.Generator) -> tuple[str, str]:
    """(base, legal form) for a new company in ``country``."""
    pick = lambda seq: seq[rng.integers(len(seq))]  # noqa: E731
    form = pick(words.LEGAL_FORMS[country])
    r = rng.random()
    if country in ("DE", "AT", "CH"):
        if r < 0.6:
            base = f"{pick(words.SURNAMES_DE)} {pick(words.INDUSTRIES_DE)}"
        elif r < 0.85:
            base = f"{pick(words.BRANDS_DE)} {pick(words.INDUSTRIES_DE)}"
        else:
            base = f"{pick(words.SURNAMES_DE)} & {pick(words.SURNAMES_DE)}"
    elif country in ("GB", "IE"):
        base = f"{pick(words.WORDS_EN)} {pick(words.INDUSTRIES_EN)}"
    elif country in ("NL", "BE"):
        base = f"{pick(words.WORDS_NL_BE)} {pick(words.INDUSTRIES_NL_BE)}"
    elif country == "FR":
        base = f"{pick(words.WORDS_FR)} {pick(words.INDUSTRIES_FR)}"
    else:
        base = f"{pick(words.WORDS_NORDIC)} {pick(words.INDUSTRIES_NORDIC)}"
    return base, form


def _initials(base: str) -> str:
    letters = [w[0] for w in base.replace("&", " ").split() if w[0].isalpha()]
    return "".join(letters).upper()


def _typo(text: str, rng: np.random.Generator) -> str:
    """One keyboard slip in the first word: swap, drop or double a letter."""
    positions = [i for i, c in enumerate(text[:-1]) if c.isalpha() and text[i + 1].isalpha()]
    if not positions:
        return text + text[-1]
    i = positions[rng.integers(len(positions))]
    kind = rng.integers(3)
    if kind == 0:
        return text[:i] + text[i + 1] + text[i] + text[i + 2 :]
    if kind == 1:
        return text[:i] + text[i + 1 :]
    return text[:i] + text[i] + text[i:]


@dataclass
class Master:
    customers: pd.DataFrame
    salespeople: pd.DataFrame
    name_index: dict[str, int]  # normalised name or alias → customer position
    account_index: dict[str, int]  # master-data IBAN → customer position
    third_parties: pd.DataFrame  # name, iban, country (payers of other companies' invoices)


def make_salespeople(n_customers: int, rng: np.random.Generator) -> pd.DataFrame:
    n = int(min(20, max(10, round(n_customers / 15))))
    n_members = n - 1  # everybody except the head of sales carries customers
    sizes = np.maximum(1, np.floor(np.array(TEAM_WEIGHTS) * n_members)).astype(int)
    while sizes.sum() < n_members:
        sizes[int(np.argmax(np.array(TEAM_WEIGHTS) * n_members - sizes))] += 1
    while sizes.sum() > n_members:
        sizes[int(np.argmax(sizes))] -= 1
    used_names: set[str] = set()

    def person() -> str:
        while True:
            first = words.FIRST_NAMES[rng.integers(len(words.FIRST_NAMES))]
            last = words.LAST_NAMES[rng.integers(len(words.LAST_NAMES))]
            if f"{first} {last}" not in used_names:
                used_names.add(f"{first} {last}")
                return f"{first} {last}"

    rows = [("SP001", person(), "Management", "", -1)]
    for team_idx, size in enumerate(sizes):
        lead = ""
        for k in range(size):
            sp_id = f"SP{len(rows) + 1:03d}"
            rows.append((sp_id, person(), TEAMS[team_idx], lead or "SP001", team_idx))
            if k == 0:
                lead = sp_id
    return pd.DataFrame(rows, columns=["salesperson_id", "name", "team", "manager_id", "team_idx"])


def make_master(n_customers: int, rng: np.random.Generator, ibans: IbanFactory) -> Master:
    if n_customers < 1:
        raise ValueError("customers must be at least 1")
    salespeople = make_salespeople(n_customers, rng)

    codes = [c for c, _ in CURRENCY_WEIGHTS]
    weights = np.array([w for _, w in CURRENCY_WEIGHTS])
    currency = np.array(codes)[rng.choice(len(codes), n_customers, p=weights)]
    if n_customers >= 10:  # a few of every currency, however small the run
        for k, code in enumerate(("USD", "CHF")):
            if np.count_nonzero(currency == code) < 2:
                currency[1 + 2 * k : 3 + 2 * k] = code

    country = np.empty(n_customers, dtype=object)
    for code in codes:
        mask = currency == code
        options = words.COUNTRIES_BY_CURRENCY[code]
        p = np.array([w for _, w in options])
        country[mask] = np.array([c for c, _ in options])[
            rng.choice(len(options), int(mask.sum()), p=p / p.sum())
        ]

    # Size drives invoice frequency and amounts; the biggest tenth are key accounts.
    size = rng.lognormal(0.0, 1.0, n_customers)
    key = size >= np.quantile(size, 0.9) if n_customers >= 10 else np.zeros(n_customers, bool)

    # ---- names, near-duplicates and aliases (a Python loop: one pass per customer)
    name_index: dict[str, int] = {}
    names: list[str] = []
    bases: list[str] = []
    aliases: list[list[str]] = []
    n_dups = max(2, round(0.04 * n_customers)) if n_customers >= 20 else 0
    dup_at = (
        set(rng.choice(np.arange(n_customers // 2, n_customers), n_dups, replace=False).tolist())
        if n_dups
        else set()
    )
    for i in range(n_customers):
        name = ""
        base = ""
        if i in dup_at:  # the same base as an earlier customer, another legal form
            j = int(rng.integers(0, i))
            base = bases[j]
            for form in (
                words.SIBLING_FORMS[rng.integers(len(words.SIBLING_FORMS)) :] + words.SIBLING_FORMS
            ):
                if norm_name(f"{base} {form}") not in name_index:
                    name = f"{base} {form}"
                    break
        attempt = 0
        while not name:
            base, form = _name_parts(country[i], rng)
            if attempt >= 6:
                base = f"{base} {words.CITIES[rng.integers(len(words.CITIES))]}"
            if attempt >= 12:
                base = f"{base} {attempt}"
            if norm_name(f"{base} {form}") not in name_index:
                name = f"{base} {form}"
            attempt += 1
        name_index[norm_name(name)] = i
        names.append(name)
        bases.append(base)
        aliases.append([])

    # Aliases after all names exist, so an alias never collides with a later official name.
    for i in range(n_customers):
        if rng.random() >= 0.35:
            continue
        form = names[i][len(bases[i]) :].strip()
        candidates = []
        if rng.random() < 0.5:  # a trading name
            brand = words.BRANDS_DE[rng.integers(len(words.BRANDS_DE))]
            candidates.append(
                f"{brand} {words.INDUSTRIES_EN[rng.integers(len(words.INDUSTRIES_EN))]}"
            )
        candidates.append(bases[i])  # the name without its legal form
        if len(_initials(bases[i])) >= 2:  # an abbreviation
            candidates.append(f"{_initials(bases[i])} {form}")
        for alias in candidates[: 1 + int(rng.random() < 0.3)]:
            if norm_name(alias) not in name_index:
                name_index[norm_name(alias)] = i
                aliases[i].append(alias)

    # ---- bank accounts: 0, 1 or 2 in master data, plus one the customer also pays from
    n_accounts = rng.choice(3, n_customers, p=[0.08, 0.75, 0.17])
    accounts: list[list[str]] = []
    hidden: list[str] = []
    account_index: dict[str, int] = {}
    for i in range(n_customers):
        own = [ibans.new(country[i]) for _ in range(int(n_accounts[i]))]
        for iban in own:
            account_index[iban] = i
        accounts.append(own)
        hidden.append(ibans.new(country[i]))

    # ---- commercial terms and behaviour
    terms = np.array([14, 30, 30, 30, 45, 60])[rng.integers(0, 6, n_customers)]
    base_amount = np.exp(rng.normal(np.log(2500.0), 0.9, n_customers)) * np.where(key, 3.0, 1.0)
    credit_limit = np.round(base_amount * (4 + 8 * rng.random(n_customers)) * (1 + size), -3)
    credit_limit = np.maximum(credit_limit, 5000.0).astype(np.int64) * 100
    credit_limit[rng.random(n_customers) < 0.15] = -1  # blank: no limit

    team = np.array([TEAM_OF_COUNTRY[c] for c in country])
    team[key] = TEAMS.index("Key Accounts")
    sp_team = salespeople["team_idx"].to_numpy()
    sp_idx = np.empty(n_customers, dtype=np.int64)
    for t in range(len(TEAMS)):
        members = np.flatnonzero(sp_team == t)
        mask = team == t
        sp_idx[mask] = members[rng.integers(0, len(members), int(mask.sum()))]

    profile = rng.choice(
        4, n_customers, p=[0.15, 0.45, 0.30, 0.10]
    )  # early, punctual, late, very late
    has_master_acct = n_accounts > 0
    sdd = (currency == "EUR") & has_master_acct & (rng.random(n_customers) < 0.10)
    noref = (~sdd) & (rng.random(n_customers) < 0.32)  # pays mostly without any reference
    rf_user = (~noref) & (rng.random(n_customers) < 0.2)
    multi = (~sdd) & (rng.random(n_customers) < 0.40)
    subscription = rng.random(n_customers) < 0.05
    catalog = (~subscription) & (rng.random(n_customers) < 0.15)
    second_eur = (currency == "EUR") & (rng.random(n_customers) < 0.15)

    # ---- third parties: a parent, group treasury or factor paying some of the invoices
    tp_rows = []
    tp_idx = np.full(n_customers, -1, dtype=np.int64)
    used_tp: set[str] = set()
    for i in np.flatnonzero(rng.random(n_customers) < 0.12):
        for _ in range(20):
            pattern = words.THIRD_PARTY_PATTERNS[rng.integers(len(words.THIRD_PARTY_PATTERNS))]
            tp_name = pattern.format(
                w=words.THIRD_PARTY_WORDS[rng.integers(len(words.THIRD_PARTY_WORDS))]
            )
            if norm_name(tp_name) not in name_index and tp_name not in used_tp:
                break
        else:
            tp_name = f"{tp_name} {len(tp_rows) + 1}"
        used_tp.add(tp_name)
        tp_idx[i] = len(tp_rows)
        tp_rows.append((tp_name, ibans.new(country[i]), country[i]))
    third_parties = pd.DataFrame(tp_rows, columns=["name", "iban", "country"])

    customers = pd.DataFrame(
        {
            "customer_id": [str(10001 + i) for i in range(n_customers)],
            "name": names,
            "base": bases,
            "country": country.astype(str),
            "currency": currency.astype(str),
            "credit_limit": credit_limit,
            "terms": terms,
            "sp_idx": sp_idx,
            "key": key,
            "accounts": accounts,
            "aliases": aliases,
            "hidden_iban": hidden,
            "size": size,
            "base_amount": base_amount,
            "profile": profile,
            "sdd": sdd,
            "noref": noref,
            "rf_user": rf_user,
            "multi": multi,
            "subscription": subscription,
            "catalog": catalog,
            "second_eur": second_eur,
            "third_party": tp_idx,
        }
    )
    return Master(customers, salespeople, name_index, account_index, third_parties)


def payer_name_variants(
    customers: pd.DataFrame, name_index: dict[str, int], rng: np.random.Generator
) -> tuple[list[str], list[str], list[str]]:
    """Per customer: a bank-style spelling, a typo'd spelling and the name without legal form.

    A typo'd spelling never equals any master-data name or alias (it would identify somebody).
    """
    bank, typo, short = [], [], []
    for name, base in zip(customers["name"], customers["base"], strict=True):
        bank.append(bank_style(name))
        for _ in range(10):
            candidate = _typo(name, rng)
            if norm_name(candidate) not in name_index:
                break
        else:
            candidate = name + "."
        typo.append(candidate)
        short.append(base)
    return bank, typo, short
