"""Regenerates python_semantics.jsonl: differential cases computed by CPython
(difflib, unicodedata, re, float) for the Rust ports in src/difflib.rs,
src/vocab.rs and src/numbers.rs. Run: python3 gen_python_semantics.py > python_semantics.jsonl
"""
import difflib
import json
import random
import re
import unicodedata

rng = random.Random(20240611)
NUM_RE = re.compile(r"\d[\d.,]*\d\s*%?|\d\s*%?")


def normalize(text):
    t = unicodedata.normalize("NFKD", text)
    t = "".join(c for c in t if not unicodedata.combining(c))
    t = t.lower()
    return re.sub(r"[^a-z0-9]+", " ", t).strip()


def parse_number(token):
    t = token.strip().replace(" ", "")
    is_percent = t.endswith("%")
    if is_percent:
        t = t[:-1]
    if not t:
        return None
    seps = [i for i, c in enumerate(t) if c in ".,"]
    if seps:
        last = seps[-1]
        frac = t[last + 1:]
        if frac.isdigit() and 1 <= len(frac) <= 2:
            t = t[:last].replace(".", "").replace(",", "") + "." + frac
        else:
            t = t.replace(".", "").replace(",", "")
    try:
        return {"value": float(t), "is_percent": is_percent}
    except ValueError:
        return None


def fnum(v):
    if v is None:
        return None
    x = v["value"]
    if x != x or x in (float("inf"), float("-inf")):
        return {"value": repr(x), "is_percent": v["is_percent"]}
    return v


out = []
# difflib ratios, short strings from a small alphabet (many repeated blocks).
for _ in range(800):
    alpha = rng.choice(["ab", "abc ", "abcdefgh ", "aeiou rstln"])
    a = "".join(rng.choice(alpha) for _ in range(rng.randint(0, 25)))
    b = "".join(rng.choice(alpha) for _ in range(rng.randint(0, 25)))
    out.append({"kind": "ratio", "a": a, "b": b, "ratio": difflib.SequenceMatcher(None, a, b).ratio()})
# Long b (autojunk popular elements).
for _ in range(60):
    alpha = rng.choice(["ab", "abc ", "abcdefghijklmnopqrstuvwxyz  "])
    a = "".join(rng.choice(alpha) for _ in range(rng.randint(0, 300)))
    b = "".join(rng.choice(alpha) for _ in range(rng.randint(195, 320)))
    out.append({"kind": "ratio", "a": a, "b": b, "ratio": difflib.SequenceMatcher(None, a, b).ratio()})
# normalize on mixed Unicode.
pool = "aAéÉèÊçÇßœŒæøÅﬁﬂＡＢｃ１２３ \t\u00a0\u2003.,:;'-_!İıΣσςЖж日本ℌℍ℡Ⅻ①²½K\u0301\u0327e\u0300"
for _ in range(400):
    s = "".join(rng.choice(pool) for _ in range(rng.randint(0, 20)))
    out.append({"kind": "normalize", "text": s, "normalized": normalize(s)})
# Number tokens and parse_number on noisy text.
npool = "0123456789" * 3 + "١٢٣٤٥６７８９" + ".,%%  \u00a0\t\u2009abcX-_+eE" + "\u00b2\u2460"
for _ in range(700):
    s = "".join(rng.choice(npool) for _ in range(rng.randint(0, 18)))
    toks = []
    for m in NUM_RE.finditer(s):
        toks.append({"match": m.group(), "start": m.start(), "end": m.end(), "parsed": fnum(parse_number(m.group()))})
    out.append({"kind": "tokens", "text": s, "tokens": toks, "parse_number": fnum(parse_number(s))})
# parse_number on whole texts Python's float() grammar decides.
extra = ["1e5", "1E5", "1e", "inf", "-inf", "Infinity", "nan", "+5", "-5", "1_000", "1__000", "_1", "1_",
         "0x10", "1,5e3", " 12 ", "١٢_٣", "1.5.", "..5", "5..", "1 2 3", "12\u00a0", "\u00a012", "1e1_0",
         "١e٣", "1_000.5", "1.0e-3", "e5", ".e5", "1.e5", "+.5", "-.5%", "nan%", "١٢٣%", "∞"]
for s in extra:
    out.append({"kind": "tokens", "text": s, "tokens": [
        {"match": m.group(), "start": m.start(), "end": m.end(), "parsed": fnum(parse_number(m.group()))}
        for m in NUM_RE.finditer(s)], "parse_number": fnum(parse_number(s))})
for row in out:
    print(json.dumps(row, ensure_ascii=False))
