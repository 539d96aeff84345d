#!/usr/bin/env python3
"""Writes numbers.tsv: phone numbers as people write them, each with the E.164
form libphonenumber (the python3-phonenumbers package) gives it.

Each line: mission country (empty: none), input, expected E.164. The unit test
test_phone reads the file; run this by hand when the table should change:

    python3 gen_cases.py > numbers.tsv

The numbers are libphonenumber's example mobile and fixed-line numbers of each
region with their last digits varied (kept only when libphonenumber still finds
them valid), written with +, with 00 (spaced at a Korean mission, unspaced at a
Turkish one) and in national form at a mission in their own country.
"""
import random

import phonenumbers as pn

SEED = 20260
ROWS = 800

# National forms left out, each on purpose:
SKIP_NATIONAL = {
    # Mobiles written without the trunk 0 where the country keeps it for
    # landlines; without a detailed plan these are refused, not guessed.
    "BO", "BR", "GE", "KI", "MN", "NP", "PE", "RW", "SO", "UY",
    # Belarus writes "8 0xx"; Marshall Islands numbers go without their 1.
    "BY", "MH",
    # Monaco writes mobiles with 0, landlines without.
    "MC",
    # Argentine mobiles: 0 area 15 number becomes +54 9 area number.
    "AR",
}

random.seed(SEED)


def vary(num):
    """A valid number like num with its last three digits varied, else num."""
    nsn = str(num.national_number)
    lead = "0" * (num.number_of_leading_zeros or 1) if num.italian_leading_zero else ""
    for _ in range(20):
        tail = "".join(random.choice("0123456789") for _ in range(3))
        try:
            n = pn.parse("+%d%s%s" % (num.country_code, lead, nsn[:-3] + tail), None)
        except pn.NumberParseException:
            continue
        if pn.is_valid_number(n):
            return n
    return num


rows = []
for i, region in enumerate(sorted(pn.SUPPORTED_REGIONS)):
    for t in (pn.PhoneNumberType.MOBILE, pn.PhoneNumberType.FIXED_LINE):
        ex = pn.example_number_for_type(region, t)
        if ex is None or not pn.is_valid_number(ex):
            continue
        num = vary(ex)
        e164 = pn.format_number(num, pn.PhoneNumberFormat.E164)
        intl = pn.format_number(num, pn.PhoneNumberFormat.INTERNATIONAL)
        rows.append(("", intl, e164))
        if i % 2 == 0:
            rows.append(("KR", "00 " + intl[1:], e164))
        else:
            rows.append(("TR", "00" + e164[1:], e164))
        nat = pn.format_number(num, pn.PhoneNumberFormat.NATIONAL)
        # Only national forms libphonenumber reads back as the same number.
        if region not in SKIP_NATIONAL and pn.parse(nat, region) == num:
            rows.append((region, nat, e164))

rows = sorted(random.sample(rows, min(ROWS, len(rows))), key=lambda r: (r[2], r[0], r[1]))
print("# mission\tinput\tE.164, from libphonenumber %s by gen_cases.py" % pn.__version__)
for r in rows:
    print("\t".join(r))
