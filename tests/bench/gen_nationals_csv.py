#!/usr/bin/env python3
"""Writes a synthetic nationals CSV for the import benchmark: N rows with
Korean headers, Hangul and Latin names, Korean and Turkish mobile numbers,
households, travellers, coordinates in Türkiye, and about 1% deliberately
bad rows (bad phone, impossible date, missing name). Nobody in it is real.

    gen_nationals_csv.py ROWS OUT.csv [SEED]
"""

import csv
import random
import sys

SURNAMES = [("김", "KIM"), ("이", "LEE"), ("박", "PARK"), ("최", "CHOI"), ("정", "JUNG"), ("강", "KANG"),
            ("조", "CHO"), ("윤", "YOON"), ("장", "JANG"), ("임", "LIM"), ("한", "HAN"), ("오", "OH")]
SYLLABLES = [("민", "min"), ("서", "seo"), ("지", "ji"), ("준", "jun"), ("현", "hyeon"), ("우", "u"),
             ("예", "ye"), ("은", "eun"), ("하", "ha"), ("도", "do"), ("윤", "yun"), ("수", "su"),
             ("연", "yeon"), ("진", "jin"), ("영", "yeong"), ("호", "ho")]


def main():
    rows = int(sys.argv[1])
    out = sys.argv[2]
    rnd = random.Random(int(sys.argv[3]) if len(sys.argv) > 3 else 7)
    with open(out, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["성명", "영문성명", "생년월일", "여권번호", "휴대전화", "이메일", "구분", "입국일", "출국일",
                    "가구", "위도", "경도"])
        for i in range(rows):
            s_ko, s_en = rnd.choice(SURNAMES)
            g1, g2 = rnd.choice(SYLLABLES), rnd.choice(SYLLABLES)
            name_ko = s_ko + g1[0] + g2[0]
            name_en = "%s %s" % (s_en, (g1[1] + g2[1]).upper())
            birth = "%04d-%02d-%02d" % (rnd.randint(1940, 2020), rnd.randint(1, 12), rnd.randint(1, 28))
            passport = "M%08d" % (10000000 + i)
            if rnd.random() < 0.8:
                phone = "010-%04d-%04d" % (rnd.randint(1000, 9999), i % 10000)
            else:
                phone = "0532 %03d %02d %02d" % (rnd.randint(100, 999), rnd.randint(0, 99), i % 100)
            email = "p%d@example.org" % i if rnd.random() < 0.5 else ""
            traveller = rnd.random() < 0.3
            kind = "여행자" if traveller else "거주자"
            arrival = "2026-11-%02d" % rnd.randint(1, 20) if traveller else ""
            departure = "2026-12-%02d" % rnd.randint(1, 28) if traveller else ""
            household = "H%d" % (i // 3)
            lat = "%.5f" % rnd.uniform(36.5, 41.5)
            lon = "%.5f" % rnd.uniform(27.0, 43.0)
            if i % 100 == 99:  # one bad row in a hundred, three kinds of fault
                fault = (i // 100) % 3
                if fault == 0:
                    phone = "12"
                elif fault == 1:
                    birth = "1990-02-30"
                else:
                    name_ko = name_en = ""
            w.writerow([name_ko, name_en, birth, passport, phone, email, kind, arrival, departure, household,
                        lat, lon])


main()
