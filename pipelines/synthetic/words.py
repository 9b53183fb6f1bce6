"""Word lists for realistic company, person and text values. Fixed tuples: order matters for
determinism, so never build these from sets."""

from __future__ import annotations

# Currency → countries the company's customers in that currency sit in, with weights.
COUNTRIES_BY_CURRENCY: dict[str, tuple[tuple[str, float], ...]] = {
    "EUR": (
        ("DE", 0.42),
        ("AT", 0.10),
        ("NL", 0.10),
        ("FR", 0.10),
        ("BE", 0.07),
        ("IE", 0.05),
        ("FI", 0.05),
        ("SE", 0.06),
        ("DK", 0.05),
    ),
    "USD": (("GB", 0.35), ("IE", 0.20), ("NL", 0.15), ("DE", 0.15), ("SE", 0.15)),
    "CHF": (("CH", 0.85), ("DE", 0.15)),
}

LEGAL_FORMS: dict[str, tuple[str, ...]] = {
    "DE": ("GmbH", "GmbH", "GmbH", "AG", "KG", "GmbH & Co. KG", "SE", "e.K."),
    "AT": ("GmbH", "GmbH", "AG", "KG"),
    "CH": ("AG", "AG", "GmbH", "SA"),
    "NL": ("B.V.", "B.V.", "N.V."),
    "BE": ("NV", "BV", "SA", "SRL"),
    "FR": ("SAS", "SAS", "SA", "SARL"),
    "GB": ("Ltd", "Ltd", "Limited", "PLC"),
    "IE": ("Ltd", "Limited", "DAC"),
    "FI": ("Oy", "Oy", "Oyj"),
    "SE": ("AB", "AB"),
    "DK": ("A/S", "ApS"),
}

# Sibling legal forms for deliberate near-duplicate names ("Alpha Trading GmbH" / "… AG").
SIBLING_FORMS: tuple[str, ...] = ("GmbH", "AG", "Ltd", "B.V.", "SA", "AB", "KG", "SE")

SURNAMES_DE: tuple[str, ...] = (
    "Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker",
    "Schulz", "Hoffmann", "Koch", "Bauer", "Richter", "Klein", "Wolf", "Schröder",
    "Neumann", "Schwarz", "Zimmermann", "Braun", "Krüger", "Hofmann", "Hartmann", "Lange",
    "Werner", "Krause", "Lehmann", "Köhler", "Weiß", "Jäger", "Groß", "Böhm",
)  # fmt: skip

BRANDS_DE: tuple[str, ...] = (
    "Nordlicht", "Alpenblick", "Rheintal", "Hanse", "Sonnenberg", "Weserland", "Elbtal",
    "Schwarzwald", "Isar", "Bergland", "Donau", "Taunus", "Main", "Harz", "Ostsee", "Mosel",
)  # fmt: skip

INDUSTRIES_DE: tuple[str, ...] = (
    "Maschinenbau", "Logistik", "Elektrotechnik", "Anlagenbau", "Metallbau",
    "Kunststofftechnik", "Handel", "Automation", "Verpackung", "Feinmechanik",
    "Präzisionsteile", "Stahlhandel", "Haustechnik", "Medizintechnik", "Straßenbau",
    "Antriebstechnik", "Werkzeugbau", "Bürotechnik",
)  # fmt: skip

WORDS_EN: tuple[str, ...] = (
    "Acme", "Apex", "Pinnacle", "Summit", "Crown", "Northern", "Atlas", "Beacon", "Sterling",
    "Harbour", "Meridian", "Vanguard", "Alpha", "Orion", "Keystone", "Riverside", "Highland",
    "Granite", "Silverline", "Bluewater", "Redwood", "Oakfield", "Westbridge", "Eastgate",
)  # fmt: skip

INDUSTRIES_EN: tuple[str, ...] = (
    "Components", "Engineering", "Logistics", "Trading", "Supplies", "Systems", "Industries",
    "Technologies", "Manufacturing", "Distribution", "Packaging", "Instruments", "Controls",
    "Foods", "Plastics", "Electronics",
)  # fmt: skip

WORDS_NORDIC: tuple[str, ...] = (
    "Nordlicht", "Fjord", "Sjöberg", "Lindqvist", "Björk", "Aurora", "Havblik", "Skog",
    "Järnverk", "Vinter", "Kuusi", "Järvi", "Nordvik", "Østergaard", "Sølvberg", "Lunden",
)  # fmt: skip

INDUSTRIES_NORDIC: tuple[str, ...] = (
    "Logistics", "Industri", "Teknik", "Trading", "Maskin", "Components", "Systems", "Handel",
)  # fmt: skip

WORDS_NL_BE: tuple[str, ...] = (
    "De Vries", "Van Dijk", "Jansen", "Bakker", "Visser", "Smit", "Mulder", "De Boer",
    "Peeters", "Janssens", "Maes", "Willems", "Claes", "Goossens", "Delta", "Polder",
)  # fmt: skip

INDUSTRIES_NL_BE: tuple[str, ...] = (
    "Techniek", "Logistiek", "Handel", "Machinebouw", "Installatie", "Verpakkingen",
    "Transport", "Industrie", "Trading", "Components",
)  # fmt: skip

WORDS_FR: tuple[str, ...] = (
    "Dubois", "Lefèvre", "Moreau", "Laurent", "Girard", "Bonnet", "Mercier", "Fontaine",
    "Rousseau", "Lambert", "Provence", "Atlantique", "Rhône", "Loire", "Alpes", "Garonne",
)  # fmt: skip

INDUSTRIES_FR: tuple[str, ...] = (
    "Industrie", "Logistique", "Mécanique", "Distribution", "Emballages", "Équipements",
    "Technologies", "Négoce", "Électronique", "Composants",
)  # fmt: skip

CITIES: tuple[str, ...] = (
    "Nord", "Süd", "West", "Ost", "Berlin", "Hamburg", "München", "Köln", "Stuttgart",
    "Dresden", "Leipzig", "Bremen", "Hannover", "Nürnberg", "Wien", "Graz", "Zürich", "Basel",
    "Rotterdam", "Antwerp", "Lyon", "Dublin", "Manchester", "Malmö", "Aarhus", "Tampere",
)  # fmt: skip

FIRST_NAMES: tuple[str, ...] = (
    "Anna", "Lukas", "Sophie", "Jonas", "Marie", "Felix", "Laura", "Paul", "Julia", "Max",
    "Emma", "Leon", "Hannah", "Tim", "Lea", "David", "Sarah", "Simon", "Clara", "Jan",
    "Olivia", "James", "Emily", "Thomas", "Chloé", "Pierre", "Sanne", "Bram", "Ingrid", "Lars",
)  # fmt: skip

LAST_NAMES: tuple[str, ...] = (
    "Becker", "Hansen", "Keller", "Vogel", "Brandt", "Frank", "Berger", "Winkler", "Lorenz",
    "Baumann", "Kraus", "Busch", "Pohl", "Horn", "Walter", "Peters", "Smith", "Murphy",
    "Dupont", "Martin", "de Jong", "Nielsen", "Lindgren", "Virtanen", "Roth", "Seidel",
)  # fmt: skip

# Third parties that pay customers' invoices: parents, group treasuries, factors.
THIRD_PARTY_PATTERNS: tuple[str, ...] = (
    "{w} Holding GmbH",
    "{w} Group Treasury Ltd",
    "{w} Beteiligungs AG",
    "{w} Factoring GmbH",
    "{w} Finance B.V.",
    "{w} Shared Services s.r.o.",
    "{w} Group Services AB",
)

THIRD_PARTY_WORDS: tuple[str, ...] = (
    "Kronos", "Helios", "Triton", "Ventura", "Castell", "Emden", "Novum", "Praxis", "Lumen",
    "Quadrant", "Rubicon", "Solvay", "Tellus", "Umbra", "Vektor", "Zenit", "Aquila", "Boreal",
)  # fmt: skip

SUPPLIERS: tuple[str, ...] = (
    "Stadtwerke Musterstadt", "Telekom Deutschland GmbH", "Stahlwerk Thüringen GmbH",
    "DB Schenker", "Würth GmbH", "Office Partner GmbH", "Amazon Business EU", "Allianz Versicherung",
    "Vodafone GmbH", "Rhenus Logistics", "Bosch Rexroth AG", "Hoffmann Group", "IT-Haus GmbH",
    "Shell Fleet Solutions", "Sparkasse Leasing", "Kanzlei Weber & Partner",
)  # fmt: skip

NO_REFERENCE_TEXTS: tuple[str, ...] = (
    "", "", "", "Zahlung", "Payment", "Überweisung", "Sammelzahlung", "Ihre Lieferungen",
    "Ausgleich offener Posten", "Payment for goods", "Settlement", "Virement", "Betaling",
    "Abschlag", "Zahlung lt. Avis", "Payment as agreed", "Begleichung", "Maksu",
)  # fmt: skip

UNKNOWN_PAYER_TEXTS: tuple[str, ...] = (
    "", "Zahlung", "Rechnung", "Payment", "Überweisung", "Invoice payment", "Betrag",
    "Ausgleich", "Transfer",
)  # fmt: skip
