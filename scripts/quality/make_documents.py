#!/usr/bin/env python3
"""Renders the reading-quality document set into tests/fixtures/quality/ (docs/quality.md).

Seven pages with known text (a receipt, a table, a form, a code screenshot, a slide, a memo and
an invoice) as PNGs, plus questions.jsonl: one question a line, answered by text printed on its
page. Deterministic: nothing random, no dates from the clock, fixed PNG encoder settings, so a
run reproduces the committed files byte for byte given the same Pillow (and its FreeType and
zlib) and the same DejaVu fonts; MANIFEST.txt records those versions and every file's SHA-256.

    python3 scripts/quality/make_documents.py            # (re)write the set
    python3 scripts/quality/make_documents.py --check    # render to a temp dir, compare bytes
    python3 scripts/quality/make_documents.py --out DIR  # write elsewhere

Needs Pillow and the DejaVu fonts (Debian/Ubuntu: fonts-dejavu-core, found in
/usr/share/fonts/truetype/dejavu/, or a folder named by $DEJAVU_DIR). The PNGs are committed, so
nothing else (CI included) needs either.
"""

import argparse
import hashlib
import json
import os
import sys
import tempfile
from pathlib import Path

try:
    from PIL import Image, ImageDraw, ImageFont, features
except ImportError:  # pragma: no cover - a clear message instead of a traceback
    sys.exit("make_documents.py needs Pillow (pip install Pillow); the committed PNGs need nothing")

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUT = ROOT / "tests" / "fixtures" / "quality"
FONT_DIRS = [
    os.environ.get("DEJAVU_DIR", ""),
    "/usr/share/fonts/truetype/dejavu",
    "/usr/share/fonts/dejavu",
    "/usr/share/fonts/TTF",
    "/usr/local/share/fonts",
]
FONT_FILES = {
    "sans": "DejaVuSans.ttf",
    "bold": "DejaVuSans-Bold.ttf",
    "serif": "DejaVuSerif.ttf",
    "serif-bold": "DejaVuSerif-Bold.ttf",
    "mono": "DejaVuSansMono.ttf",
    "mono-bold": "DejaVuSansMono-Bold.ttf",
    "cond": "DejaVuSansCondensed.ttf",
}


def font_dir():
    for d in FONT_DIRS:
        if d and all((Path(d) / f).is_file() for f in FONT_FILES.values()):
            return Path(d)
    sys.exit(
        "make_documents.py: the DejaVu fonts are missing (looked in "
        + ", ".join(d for d in FONT_DIRS if d)
        + "). Install fonts-dejavu-core (apt-get install fonts-dejavu-core) or set DEJAVU_DIR to "
        "a folder holding " + ", ".join(sorted(FONT_FILES.values())) + ". Another font would "
        "render different pixels, so this script does not fall back to one; the committed PNGs "
        "stay valid either way."
    )


_FONTS = {}


def font(kind, size):
    key = (kind, size)
    if key not in _FONTS:
        _FONTS[key] = ImageFont.truetype(str(font_dir() / FONT_FILES[kind]), size)
    return _FONTS[key]


def text_width(draw, s, f):
    return draw.textlength(s, font=f)


def grayscale(img):
    """Anti-aliased gray text kept to 16 levels, saved as a 4-bit palette PNG (a scan's look at
    a fraction of the bytes)."""
    levels = img.convert("L").point(lambda v: (v * 15 + 127) // 255)
    p = Image.frombytes("P", levels.size, levels.tobytes())
    p.putpalette([i * 17 for i in range(16) for _ in range(3)])
    return p


def palette(img, colors):
    """An RGB page reduced to a fixed palette (nearest colour, no dithering)."""
    pal_img = Image.new("P", (1, 1))
    flat = []
    for c in colors:
        flat += list(c)
    flat += list(colors[0]) * (256 - len(colors))
    pal_img.putpalette(flat)
    return img.convert("RGB").quantize(palette=pal_img, dither=Image.Dither.NONE)


# ---------------------------------------------------------------------------------------------
# The pages. Each returns (image, questions); a question is (kind-local id, question, answers).


def receipt():
    w, h = 576, 900
    img = Image.new("L", (w, h), 250)
    d = ImageDraw.Draw(img)
    mono, monob = font("mono", 22), font("mono-bold", 30)
    y = 40

    def center(s, f, dy):
        nonlocal y
        d.text(((w - text_width(d, s, f)) / 2, y), s, font=f, fill=20)
        y += dy

    def row(left, right, f=mono, dy=32):
        nonlocal y
        d.text((36, y), left, font=f, fill=25)
        d.text((w - 36 - text_width(d, right, f), y), right, font=f, fill=25)
        y += dy

    center("GREEN LEAF MARKET", monob, 44)
    center("418 Harbor Avenue", mono, 30)
    center("Portland, OR 97204", mono, 30)
    center("Tel (503) 555-0142", mono, 46)
    row("Date: 2024-03-14", "Time: 18:42")
    row("Cashier: Maria", "Lane 3", dy=40)
    d.line([(36, y), (w - 36, y)], fill=60, width=2)
    y += 20
    items = [
        ("Organic Bananas 2 lb", "2.58"),
        ("Whole Milk 1 gal", "4.29"),
        ("Sourdough Bread", "5.49"),
        ("Cheddar Cheese", "6.99"),
        ("Free Range Eggs 12", "4.79"),
        ("Olive Oil 500 ml", "9.95"),
        ("Coffee Beans 12 oz", "11.50"),
    ]
    for name, price in items:
        row(name, price)
    d.line([(36, y + 6), (w - 36, y + 6)], fill=60, width=2)
    y += 26
    row("SUBTOTAL", "45.59")
    row("TAX 8.5%", "3.88")
    row("TOTAL", "$49.47", f=monob, dy=48)
    row("VISA **** 4821", "49.47")
    row("CHANGE", "0.00", dy=56)
    center("Items sold: 7", mono, 34)
    center("Thank you for shopping!", mono, 34)
    center("Receipt #00417-2291", mono, 30)
    qs = [
        ("total", "What is the total amount on this receipt?", ["$49.47", "49.47"]),
        ("date", "What is the date on the receipt?", ["2024-03-14", "March 14, 2024"]),
        ("store", "What is the name of the store?", ["Green Leaf Market"]),
        ("item_price", "How much did the Sourdough Bread cost?", ["5.49", "$5.49"]),
        ("cashier", "What is the cashier's name?", ["Maria"]),
    ]
    return grayscale(img), qs


def table():
    w, h = 1200, 720
    img = Image.new("L", (w, h), 255)
    d = ImageDraw.Draw(img)
    title, cell, head = font("bold", 34), font("sans", 26), font("bold", 26)
    d.text((60, 44), "Quarterly Sales by Region (units)", font=title, fill=10)
    d.text((60, 96), "Fiscal year 2023, all product lines", font=font("sans", 22), fill=90)
    cols = ["Region", "Q1", "Q2", "Q3", "Q4", "Total"]
    rows = [
        ["North", "1,240", "1,315", "1,402", "1,588", "5,545"],
        ["South", "980", "1,020", "1,175", "1,230", "4,405"],
        ["East", "1,410", "1,388", "1,296", "1,501", "5,595"],
        ["West", "1,105", "1,244", "1,367", "1,420", "5,136"],
        ["Central", "760", "812", "845", "903", "3,320"],
    ]
    x0, y0, rh = 60, 160, 70
    widths = [260, 160, 160, 160, 160, 180]
    xs = [x0]
    for cw in widths:
        xs.append(xs[-1] + cw)
    d.rectangle([x0, y0, xs[-1], y0 + rh], fill=225)
    for r in range(len(rows) + 2):
        d.line([(x0, y0 + r * rh), (xs[-1], y0 + r * rh)], fill=120, width=2)
    for x in xs:
        d.line([(x, y0), (x, y0 + (len(rows) + 1) * rh)], fill=120, width=2)
    for r, values in enumerate([cols] + rows):
        for c, v in enumerate(values):
            f = head if r == 0 or c == 0 else cell
            ty = y0 + r * rh + (rh - 30) / 2
            if c == 0:
                tx = xs[c] + 18
            else:
                tx = xs[c + 1] - 18 - text_width(d, v, f)
            d.text((tx, ty), v, font=f, fill=15)
    d.text((60, y0 + 6 * rh + 30), "Source: internal sales ledger, exported 2024-01-08.",
           font=font("sans", 22), fill=90)
    qs = [
        ("south_q3", "How many units did the South region sell in Q3?", ["1,175", "1175"]),
        ("east_total", "What is the total for the East region?", ["5,595", "5595"]),
        ("highest_total", "Which region has the highest total?", ["East"]),
        ("central_q1", "What is the Q1 value for Central?", ["760"]),
        ("title", "What is the title of the table?", ["Quarterly Sales by Region (units)",
                                                      "Quarterly Sales by Region"]),
    ]
    return grayscale(img), qs


def form():
    w, h = 1000, 1320
    img = Image.new("L", (w, h), 255)
    d = ImageDraw.Draw(img)
    label, value = font("sans", 22), font("mono", 26)
    d.text((60, 50), "EMPLOYEE ONBOARDING FORM", font=font("bold", 36), fill=10)
    d.text((60, 102), "Human Resources  -  Form HR-12 (rev. 2023)", font=font("sans", 20), fill=90)
    d.line([(60, 140), (940, 140)], fill=40, width=3)
    fields = [
        ("Full name", "Daniel Okafor"),
        ("Employee ID", "EMP-20417"),
        ("Date of birth", "07/22/1988"),
        ("Department", "Logistics"),
        ("Job title", "Warehouse Supervisor"),
        ("Start date", "09/03/2024"),
        ("Work email", "d.okafor@northwind-supply.com"),
        ("Phone", "(312) 555-0188"),
        ("Emergency contact", "Grace Okafor"),
    ]
    y = 180
    for name, v in fields:
        d.text((60, y), name, font=label, fill=70)
        d.rectangle([60, y + 30, 940, y + 80], outline=130, width=2)
        d.text((76, y + 39), v, font=value, fill=15)
        y += 104
    y += 10
    d.text((60, y), "Employment type", font=label, fill=70)
    y += 38
    for i, (opt, checked) in enumerate([("Full-time", True), ("Part-time", False),
                                        ("Contractor", False)]):
        x = 60 + i * 260
        d.rectangle([x, y, x + 28, y + 28], outline=40, width=2)
        if checked:
            d.line([(x + 5, y + 14), (x + 12, y + 23), (x + 24, y + 4)], fill=15, width=4)
        d.text((x + 42, y), opt, font=label, fill=20)
    d.text((60, 1250), "Signature: ______________________     Date: 08/19/2024",
           font=label, fill=40)
    qs = [
        ("name", "What is the employee's full name?", ["Daniel Okafor"]),
        ("employee_id", "What is the Employee ID?", ["EMP-20417"]),
        ("department", "Which department is the employee in?", ["Logistics"]),
        ("email", "What is the work email address?", ["d.okafor@northwind-supply.com"]),
        ("employment_type", "Which employment type is checked?", ["Full-time", "Full time"]),
    ]
    return grayscale(img), qs


CODE = [
    ("kw", "from "), ("", "decimal "), ("kw", "import "), ("", "Decimal"), ("\n", ""),
    ("\n", ""),
    ("", "TAX_RATE = "), ("fn", "Decimal"), ("", "("), ("str", '"0.085"'), ("", ")"), ("\n", ""),
    ("\n", ""),
    ("\n", ""),
    ("kw", "def "), ("fn", "parse_invoice_total"), ("", "(lines, currency="), ("str", '"USD"'),
    ("", "):"), ("\n", ""),
    ("com", '    """Sums the amounts of an invoice\'s lines, tax included."""'), ("\n", ""),
    ("", "    subtotal = "), ("fn", "Decimal"), ("", "("), ("num", "0"), ("", ")"), ("\n", ""),
    ("kw", "    for "), ("", "line "), ("kw", "in "), ("", "lines:"), ("\n", ""),
    ("", "        name, amount = line."), ("fn", "rsplit"), ("", "("), ("str", '","'),
    ("", ", "), ("num", "1"), ("", ")"), ("\n", ""),
    ("kw", "        if not "), ("", "amount."), ("fn", "strip"), ("", "():"), ("\n", ""),
    ("kw", "            raise "), ("fn", "ValueError"), ("", "("), ("str", 'f"no amount: {name}"'),
    ("", ")"), ("\n", ""),
    ("", "        subtotal += "), ("fn", "Decimal"), ("", "(amount)"), ("\n", ""),
    ("", "    total = subtotal * ("), ("num", "1"), ("", " + TAX_RATE)"), ("\n", ""),
    ("kw", "    return "), ("fn", "round"), ("", "(total, "), ("num", "2"), ("", "), currency"),
    ("\n", ""),
    ("\n", ""),
    ("\n", ""),
    ("kw", "if "), ("", "__name__ == "), ("str", '"__main__"'), ("", ":"), ("\n", ""),
    ("fn", "    print"), ("", "(parse_invoice_total(["), ("str", '"pens,4.50"'), ("", ", "),
    ("str", '"paper,12.00"'), ("", "]))"), ("\n", ""),
]


def code():
    w, h = 1200, 760
    bg, bar, fg, gutter = (30, 32, 40), (44, 47, 58), (212, 216, 224), (110, 116, 130)
    colors = {"": fg, "kw": (199, 146, 234), "fn": (130, 170, 255), "str": (195, 232, 141),
              "num": (247, 140, 108), "com": (120, 128, 150)}
    img = Image.new("RGB", (w, h), bg)
    d = ImageDraw.Draw(img)
    d.rectangle([0, 0, w, 44], fill=bar)
    for i, c in enumerate([(255, 95, 86), (255, 189, 46), (39, 201, 63)]):
        d.ellipse([18 + i * 26, 14, 34 + i * 26, 30], fill=c)
    d.text((120, 11), "invoice_tools.py", font=font("sans", 20), fill=fg)
    f = font("mono", 22)
    lh, x0, y = 34, 90, 70
    line_no, x = 1, x0
    d.text((20, y), f"{line_no:>3}", font=f, fill=gutter)
    for kind, s in CODE:
        if kind == "\n":
            y += lh
            line_no += 1
            x = x0
            if line_no <= 19:
                d.text((20, y), f"{line_no:>3}", font=f, fill=gutter)
            continue
        d.text((x, y), s, font=f, fill=colors[kind])
        x += text_width(d, s, f)
    d.text((20, h - 34), "Python 3.12   UTF-8   Ln 6, Col 9", font=font("sans", 18), fill=gutter)
    pal = [bg, bar, fg, gutter] + [c for k, c in colors.items() if k] + [
        (255, 95, 86), (255, 189, 46), (39, 201, 63)]
    # In-between shades for the anti-aliased edges of each colour over the background.
    for c in [fg] + [c for k, c in colors.items() if k] + [gutter]:
        for t in (0.25, 0.5, 0.75):
            pal.append(tuple(round(bg[i] + (c[i] - bg[i]) * t) for i in range(3)))
    return palette(img, pal), [
        ("function_name", "What is the name of the function defined in this code?",
         ["parse_invoice_total"]),
        ("tax_rate", "What value is TAX_RATE set to?", ["0.085", 'Decimal("0.085")']),
        ("exception", "Which exception does the function raise?", ["ValueError"]),
        ("default_currency", "What is the default value of the currency parameter?",
         ["USD", '"USD"']),
        ("file_name", "What is the file name shown in the title bar?", ["invoice_tools.py"]),
    ]


def slide():
    w, h = 1280, 720
    navy, accent, white, text = (23, 43, 77), (0, 150, 136), (255, 255, 255), (40, 44, 52)
    img = Image.new("RGB", (w, h), white)
    d = ImageDraw.Draw(img)
    d.rectangle([0, 0, w, 150], fill=navy)
    d.rectangle([0, 150, w, 160], fill=accent)
    d.text((70, 42), "Q3 Product Roadmap", font=font("bold", 56), fill=white)
    bullets = [
        "Launch the Atlas mobile app on October 15",
        "Migrate billing to the new payments API",
        "Cut median page load time to 1.2 seconds",
        "Hire 4 engineers for the Platform team",
    ]
    y = 220
    for b in bullets:
        d.ellipse([80, y + 14, 96, y + 30], fill=accent)
        d.text((120, y), b, font=font("sans", 36), fill=text)
        y += 84
    d.rectangle([850, 560, 1210, 640], outline=accent, width=3)
    d.text((872, 576), "Budget: $2.4M", font=font("bold", 38), fill=navy)
    d.line([(0, 672), (w, 672)], fill=(200, 205, 215), width=2)
    d.text((70, 684), "Acme Robotics  |  Strategy Review, October 2024", font=font("sans", 22),
           fill=(110, 116, 130))
    d.text((1170, 684), "7 / 18", font=font("sans", 22), fill=(110, 116, 130))
    pal = [white, navy, accent, text, (200, 205, 215), (110, 116, 130)]
    gray = (110, 116, 130)
    for a, b in [(white, text), (navy, white), (white, accent), (white, navy), (white, gray)]:
        for t in (0.25, 0.5, 0.75):
            pal.append(tuple(round(a[i] + (b[i] - a[i]) * t) for i in range(3)))
    return palette(img, pal), [
        ("title", "What is the title of this slide?", ["Q3 Product Roadmap"]),
        ("app_name", "What is the name of the mobile app being launched?",
         ["Atlas", "Atlas mobile app"]),
        ("budget", "What is the budget shown on the slide?", ["$2.4M", "2.4M", "$2.4 million"]),
        ("company", "Which company is named in the footer?", ["Acme Robotics"]),
        ("slide_number", "What is the slide number?", ["7", "7 / 18", "7 of 18"]),
    ]


MEMO = (
    "Starting next month, all travel requests must be submitted through the new Voyager portal "
    "instead of by email. Requests for domestic trips need approval at least 10 business days "
    "before departure; international trips need 21 business days. Managers will receive a "
    "notification for each pending request and are expected to respond within two working days. "
    "\n"
    "Economy class remains the default for flights under six hours. Hotel bookings should stay "
    "within the city rate table published on the intranet; exceptions require written approval "
    "from the finance director. Meal allowances are unchanged at $65 per day for domestic travel. "
    "\n"
    "A training session on the portal will be held on Thursday, May 9 at 2:00 PM in Conference "
    "Room 4B. Attendance is strongly encouraged for anyone who books travel more than twice a "
    "year. Slides and a recording will be shared afterwards for those who cannot attend. "
    "\n"
    "Please send questions about the new policy to travel-desk@halvorsen.example before the "
    "policy takes effect on June 1, 2024. Thank you for your cooperation."
)


def wrap(d, text, f, width):
    lines = []
    for para in text.split("\n"):
        words, cur = para.split(), ""
        for word in words:
            trial = (cur + " " + word).strip()
            if text_width(d, trial, f) <= width:
                cur = trial
            else:
                lines.append(cur)
                cur = word
        lines.append(cur)
        lines.append("")
    return lines


def memo():
    w, h = 1000, 1294
    img = Image.new("L", (w, h), 255)
    d = ImageDraw.Draw(img)
    d.text((80, 70), "HALVORSEN & PARTNERS", font=font("serif-bold", 30), fill=15)
    d.text((80, 112), "Internal Memorandum", font=font("serif", 22), fill=80)
    d.line([(80, 150), (920, 150)], fill=30, width=3)
    head = [("To:", "All Staff"), ("From:", "Ingrid Halvorsen, Operations Director"),
            ("Date:", "April 22, 2024"), ("Subject:", "New Travel Approval Process")]
    y = 180
    for k, v in head:
        d.text((80, y), k, font=font("serif-bold", 22), fill=15)
        d.text((200, y), v, font=font("serif", 22), fill=15)
        y += 38
    d.line([(80, y + 12), (920, y + 12)], fill=120, width=1)
    y += 44
    body = font("serif", 21)
    for line in wrap(d, MEMO, body, 840):
        if line:
            d.text((80, y), line, font=body, fill=20)
        y += 31
    d.text((80, h - 70), "Page 1 of 1  -  Confidential: internal use only", font=font("serif", 18),
           fill=90)
    return grayscale(img), [
        ("sender", "Who sent this memo?",
         ["Ingrid Halvorsen", "Ingrid Halvorsen, Operations Director"]),
        ("subject", "What is the subject of the memo?", ["New Travel Approval Process"]),
        ("portal", "What is the name of the new travel portal?", ["Voyager", "Voyager portal"]),
        ("room", "In which room will the training session be held?",
         ["Conference Room 4B", "4B", "Room 4B"]),
        ("effective_date", "On what date does the policy take effect?", ["June 1, 2024"]),
    ]


def invoice():
    w, h = 1000, 1200
    img = Image.new("L", (w, h), 255)
    d = ImageDraw.Draw(img)
    sans, bold = font("sans", 22), font("bold", 22)
    d.text((70, 60), "BRIGHTLINE PRINTING CO.", font=font("bold", 32), fill=15)
    for i, s in enumerate(["77 Mercer Street", "Austin, TX 78701", "billing@brightline.example"]):
        d.text((70, 108 + i * 30), s, font=sans, fill=70)
    d.text((600, 60), "INVOICE", font=font("bold", 44), fill=15)
    for i, (k, v) in enumerate([("Invoice no.", "INV-2024-0386"), ("Issued", "2024-05-02"),
                                ("Due", "2024-06-01")]):
        d.text((600, 124 + i * 32), k, font=sans, fill=70)
        d.text((930 - text_width(d, v, bold), 124 + i * 32), v, font=bold, fill=15)
    d.text((70, 250), "Bill to", font=bold, fill=15)
    bill_to = ["Riverside Dental Clinic", "Attn: Priya Raman", "1200 Lamar Blvd, Suite 5",
               "Austin, TX 78703"]
    for i, s in enumerate(bill_to):
        d.text((70, 284 + i * 30), s, font=sans, fill=40)
    y = 440
    d.rectangle([70, y, 930, y + 48], fill=230)
    cols = [(86, "Description", "l"), (640, "Qty", "r"), (770, "Unit", "r"), (914, "Amount", "r")]

    def put(x, s, align, f, yy):
        d.text((x - text_width(d, s, f) if align == "r" else x, yy), s, font=f, fill=15)

    for x, s, a in cols:
        put(x, s, a, bold, y + 11)
    lines = [("Business cards (box of 500)", "4", "38.00", "152.00"),
             ("Tri-fold brochures", "1,000", "0.42", "420.00"),
             ("Appointment reminder postcards", "2,500", "0.11", "275.00"),
             ("Vinyl window decal", "2", "64.50", "129.00"),
             ("Design revisions (hours)", "3", "55.00", "165.00")]
    y += 64
    for row in lines:
        for (x, _, a), s in zip(cols, row):
            put(x, s, a, sans, y)
        y += 46
    d.line([(70, y), (930, y)], fill=120, width=2)
    y += 20
    for k, v, f in [("Subtotal", "1,141.00", sans), ("Sales tax (8.25%)", "94.13", sans),
                    ("Total due", "$1,235.13", font("bold", 26))]:
        put(700, k, "r", f, y)
        put(914, v, "r", f, y)
        y += 42
    d.text((70, 1080), "Payment terms: Net 30. Please quote the invoice number with your payment.",
           font=font("sans", 19), fill=80)
    return grayscale(img), [
        ("invoice_number", "What is the invoice number?", ["INV-2024-0386"]),
        ("total_due", "What is the total due?", ["$1,235.13", "1,235.13", "1235.13"]),
        ("due_date", "What is the due date?", ["2024-06-01"]),
        ("customer", "Who is the invoice billed to?", ["Riverside Dental Clinic"]),
        ("brochure_qty", "How many tri-fold brochures were ordered?", ["1,000", "1000"]),
    ]


PAGES = [
    ("receipt", receipt),
    ("table", table),
    ("form", form),
    ("code", code),
    ("slide", slide),
    ("memo", memo),
    ("invoice", invoice),
]


def render(out: Path):
    out.mkdir(parents=True, exist_ok=True)
    questions = []
    for kind, make in PAGES:
        img, qs = make()
        name = f"{kind}.png"
        # Fixed encoder settings, no metadata: the same pixels give the same bytes.
        img.save(out / name, format="PNG", optimize=True)
        for qid, question, answers in qs:
            questions.append({"id": f"{kind}-{qid}", "image": name, "kind": kind,
                              "question": question, "answers": answers})
    with open(out / "questions.jsonl", "w", encoding="utf-8", newline="\n") as f:
        for q in questions:
            f.write(json.dumps(q, ensure_ascii=False) + "\n")
    files = [f"{k}.png" for k, _ in PAGES] + ["questions.jsonl"]
    lines = [
        "# Written by scripts/quality/make_documents.py; do not edit.",
        f"# Pillow {Image.__version__}, FreeType {features.version('freetype2')}, "
        f"zlib {features.version('zlib')}",
    ]
    for name in files:
        digest = hashlib.sha256((out / name).read_bytes()).hexdigest()
        lines.append(f"{digest}  {name}")
    (out / "MANIFEST.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return files + ["MANIFEST.txt"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="the folder to write")
    ap.add_argument("--check", action="store_true",
                    help="render into a temporary folder and compare with --out byte for byte")
    args = ap.parse_args()
    if not args.check:
        files = render(args.out)
        total = sum((args.out / f).stat().st_size for f in files)
        print(f"wrote {len(files)} files, {total:,} bytes, to {args.out}")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        files = render(Path(tmp))
        differ = [f for f in files
                  if not (args.out / f).is_file()
                  or (args.out / f).read_bytes() != (Path(tmp) / f).read_bytes()]
    if differ:
        print(f"differ from {args.out}: {', '.join(differ)} (Pillow, FreeType, zlib or the fonts "
              "differ from MANIFEST.txt's, or the script changed)", file=sys.stderr)
        return 1
    print(f"{len(files)} files identical to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
