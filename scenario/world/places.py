"""Where sign-ins come from: the places Entra ID's geolocation reports, with their addresses.

Every public address in the scenario is taken from the ranges set aside for documentation
(RFC 5737: 192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24; RFC 3849: 2001:db8::/32), so no real
network is ever named as an attacker or as a council's home user. Entra ID's own record carries
the location, so a documentation address reported as "Reading, GB" is self-consistent.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import orjson


@dataclass(frozen=True)
class Place:
    city: str
    state: str
    country: str  # ISO 3166-1 alpha-2, as Entra ID's location.countryOrRegion
    country_name: str  # as FortiGate's srccountry/dstcountry
    latitude: float
    longitude: float
    graph: dict = field(init=False, repr=False, compare=False)
    la_json: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Built once per place and shared by every sign-in from it: the writers never rebuild it.
        graph = {
            "city": self.city,
            "state": self.state,
            "countryOrRegion": self.country,
            "geoCoordinates": {"altitude": None, "latitude": self.latitude, "longitude": self.longitude},
        }
        object.__setattr__(self, "graph", graph)
        la = {
            "city": self.city,
            "state": self.state,
            "countryOrRegion": self.country,
            "geoCoordinates": {"latitude": self.latitude, "longitude": self.longitude},
        }
        object.__setattr__(self, "la_json", orjson.dumps(la).decode())


#: Towns where the council's offices and its staff's homes geolocate.
GB_PLACES: tuple[Place, ...] = (
    Place("Newbury", "West Berkshire", "GB", "United Kingdom", 51.4014, -1.3231),
    Place("Reading", "Reading", "GB", "United Kingdom", 51.4543, -0.9781),
    Place("Thatcham", "West Berkshire", "GB", "United Kingdom", 51.4036, -1.2610),
    Place("Hungerford", "West Berkshire", "GB", "United Kingdom", 51.4147, -1.5150),
    Place("Basingstoke", "Hampshire", "GB", "United Kingdom", 51.2665, -1.0924),
    Place("Wokingham", "Wokingham", "GB", "United Kingdom", 51.4112, -0.8339),
    Place("Didcot", "Oxfordshire", "GB", "United Kingdom", 51.6080, -1.2448),
    Place("Swindon", "Swindon", "GB", "United Kingdom", 51.5558, -1.7797),
    Place("Oxford", "Oxfordshire", "GB", "United Kingdom", 51.7520, -1.2577),
    Place("London", "England", "GB", "United Kingdom", 51.5072, -0.1276),
)

MOSCOW = Place("Moscow", "Moscow", "RU", "Russian Federation", 55.7558, 37.6173)
LAGOS = Place("Lagos", "Lagos", "NG", "Nigeria", 6.5244, 3.3792)
LONDON = GB_PLACES[-1]

#: Home broadband addresses: IPv4 from TEST-NET-1, IPv6 from the documentation prefix.
HOME_V4_PREFIX = "192.0.2."
HOME_V6_PREFIX = "2001:db8:"
