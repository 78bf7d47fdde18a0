"""Field rules of the mirror, checked for every writer (the write path's full_clean, and the
partner API's serializers, which take model validators over)."""

import datetime
import functools
import zoneinfo

from django.core.exceptions import ValidationError
from django.utils import timezone

# ISO 3166-1 alpha-2, officially assigned codes.
ISO_COUNTRIES = frozenset(
    """AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ
    BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO
    DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU
    GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW
    KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU
    MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW
    PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF
    TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA
    ZM ZW""".split()  # noqa: SIM905 - 249 codes read better as a block than as a list
)
# A birthday "today" somewhere east of UTC is tomorrow's date in UTC.
BIRTH_DATE_TOLERANCE = datetime.timedelta(days=1)


def validate_country(value: str) -> None:
    if value and value.upper() not in ISO_COUNTRIES:
        raise ValidationError(
            "Enter an ISO 3166-1 alpha-2 country code, e.g. DE.", code="invalid_country"
        )


@functools.cache
def _time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def validate_time_zone(value: str) -> None:
    if value and value not in _time_zones():
        raise ValidationError(
            "Enter an IANA time zone, e.g. Europe/Berlin.", code="invalid_time_zone"
        )


def validate_not_in_future(value: datetime.date | None) -> None:
    if value and value > timezone.now().date() + BIRTH_DATE_TOLERANCE:
        raise ValidationError("A date of birth cannot be in the future.", code="future_date")
