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
import re

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
    # Argentine mobiles: 0 area 15 number becomes +54 9 area number; they
    # have their own rows below, which keeps this sample as it was.
    "AR",
}

AR_ROWS = 40  # Argentine numbers, each written in several ways

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


def ar_areas():
    """Argentina's area codes: those libphonenumber strips before a 15."""
    rx = pn.PhoneMetadata.metadata_for_region("AR").national_prefix_for_parsing
    inner = rx[len("0?(?:("):rx.rindex(")15)?")]
    area = re.compile("(?:%s)\\Z" % inner)
    return [c for n in (2, 3, 4) for c in ("%0*d" % (n, i) for i in range(10 ** n))
            if area.match(c)]


def ar_rows():
    """Argentine mobiles and landlines of random area codes, written as people do:
    0 area 15 number (grouped, or not at all), +54 9 area number, +54 area 15
    number, with 00. Only the forms libphonenumber reads as the number."""
    rng = random.Random(SEED + 54)
    areas = ar_areas()
    out = []
    while len(out) < AR_ROWS * 4:
        area = rng.choice(areas)
        sub = str(rng.randint(2, 9)) + "".join(rng.choice("0123456789")
                                               for _ in range(9 - len(area)))
        mobile = rng.random() < 0.75
        num = pn.parse("+54%s%s%s" % ("9" if mobile else "", area, sub), None)
        if not pn.is_valid_number(num):
            continue
        e164 = pn.format_number(num, pn.PhoneNumberFormat.E164)
        nat = pn.format_number(num, pn.PhoneNumberFormat.NATIONAL)
        forms = [("AR", nat), ("", pn.format_number(num, pn.PhoneNumberFormat.INTERNATIONAL))]
        if mobile:
            forms += [("AR", "0%s15%s" % (area, sub)),
                      ("", "+54 %s 15 %s" % (area, sub)),
                      ("TR", "0054%s15%s" % (area, sub)),
                      ("KR", "00 54 9 %s %s" % (area, sub))]
        for region, text in forms:
            if pn.parse(text, region or None) == num:
                out.append((region, text, e164))
    return sorted(set(out), key=lambda r: (r[2], r[0], r[1]))


print("# mission\tinput\tE.164, from libphonenumber %s by gen_cases.py" % pn.__version__)
for r in rows:
    print("\t".join(r))
print("# Argentina")
for r in ar_rows():
    print("\t".join(r))
