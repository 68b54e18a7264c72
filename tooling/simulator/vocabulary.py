"""The simulator's fixed vocabulary: names and e-mail domains, browsers, event categories with their
price ranges, artists, cities and venues, and the daily rhythm of activity. Data only: reordering or
editing a list changes every seeded marketplace (draws pick from these by position)."""

from __future__ import annotations

# UTC hour -> relative activity (evenings in Europe and the Americas dominate).
HOURLY_ACTIVITY = [3, 2, 2, 2, 2, 3, 4, 5, 6, 7, 8, 9, 10, 10, 10, 11, 12, 14, 16, 17, 16, 13, 9, 5]
FIRST_NAMES = ["ana", "ben", "chloe", "david", "emma", "felix", "grace", "hugo", "iris", "jack", "kai", "lena",
               "marco", "nora", "oscar", "paula", "quinn", "rosa", "sam", "tara", "umar", "vera", "will", "yuki",
               "zoe", "ade", "bruno", "chen", "dmitri", "elif", "farah", "goran", "hana", "ivan", "jun", "kofi"]  # fmt: skip
LAST_NAMES = ["smith", "garcia", "muller", "rossi", "dubois", "silva", "kim", "tanaka", "novak", "jensen", "okafor",
              "ivanova", "lopez", "brown", "wilson", "martin", "santos", "nguyen", "kowalski", "hansen", "patel"]  # fmt: skip
EMAIL_DOMAINS = ["mail.example", "inbox.example", "post.example", "webmail.example", "fastmail.example"]
BOT_EMAIL_DOMAINS = ["tmpbox.example", "quickinbox.example", "mail.example"]
USER_AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
    "Mozilla/5.0 (Linux; Android 15; Pixel 9) AppleWebKit/537.36 Chrome/131.0 Mobile Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0",
    "TicketApp/4.12 (iOS 18.1)",
    "TicketApp/4.11 (Android 15)",
]
BOT_USER_AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 HeadlessChrome/130.0 Safari/537.36",
    "python-httpx/0.27",
]
CATEGORIES = {  # category -> (share, face value range USD)
    "concert": (0.40, (35, 260)),
    "sports": (0.25, (30, 320)),
    "theatre": (0.15, (25, 160)),
    "festival": (0.12, (90, 420)),
    "conference": (0.08, (180, 1400)),
}
ARTISTS = ["Neon Harbor", "The Velvet Tides", "Kora Quartet", "Midnight Static", "Lumen", "Aria Vale",
           "Copper Foxes", "Solstice", "Blue Meridian", "Northbound", "Hollow Pines", "Saffron Sky"]  # fmt: skip
CITIES = {"US": "New York", "GB": "London", "DE": "Berlin", "FR": "Paris", "ES": "Madrid", "IT": "Rome",
          "NL": "Amsterdam", "SE": "Stockholm", "PL": "Warsaw", "BR": "Sao Paulo", "AR": "Buenos Aires",
          "MX": "Mexico City", "CA": "Toronto", "JP": "Tokyo", "KR": "Seoul", "SG": "Singapore",
          "IN": "Mumbai", "AU": "Sydney", "ZA": "Johannesburg", "NG": "Lagos", "RU": "Moscow",
          "VN": "Hanoi", "ID": "Jakarta", "UA": "Kyiv", "RO": "Bucharest"}  # fmt: skip
VENUE_KINDS = {"concert": "Arena", "sports": "Stadium", "theatre": "Playhouse", "festival": "Park",
               "conference": "Convention Centre"}  # fmt: skip
EVENT_COUNTRIES = ("US", "GB", "DE", "FR", "ES", "IT", "NL", "BR", "MX", "CA", "JP", "AU")
